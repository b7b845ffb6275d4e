from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from energy import recommendations


class Command(BaseCommand):
    help = (
        "Compute the saving advice of every user with energy nodes (or of one) from their "
        "last 28 days, printing a line per user (run it daily)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--user", metavar="EMAIL", help="Only this user.")

    def handle(self, *args, **options):
        failed = 0
        for user in self.users(options["user"]):
            try:
                advice = recommendations.compute(user)
            except Exception as error:  # one user's bad data must not stop the others
                failed += 1
                self.stderr.write(f"{user.email}: failed: {error!r}")
                continue
            self.stdout.write(self.line(user, advice))
        if failed:
            raise CommandError(f"{failed} user(s) failed")

    def users(self, email):
        users = get_user_model().objects.order_by("email")
        if email is None:
            return users.filter(energy_nodes__isnull=False).distinct()
        found = users.filter(email__iexact=email)
        if not found:
            raise CommandError(f"no user with the e-mail address {email}")
        return found

    def line(self, user, advice) -> str:
        if not advice:
            return f"{user.email}: no advice"
        kwh = sum(r.saving_kwh_year for r in advice)
        money = sum(r.saving_money_year for r in advice)
        return (
            f"{user.email}: {len(advice)} piece(s) of advice, "
            f"{kwh:,.0f} kWh and {money:,.2f} {advice[0].currency} a year"
        )
