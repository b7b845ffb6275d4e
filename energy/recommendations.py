"""Saving advice computed from the user's own data: each piece with the figures behind it
(`evidence`) and an estimated saving a year in kWh and in money at the user's tariff.

`compute(user)` reads the hour rollups of the user's nodes over the 28 days before the
current hour (never raw readings; a handful of queries whatever the number of nodes) and
keeps one Recommendation per (node, kind) that applies. A node whose data spans less than
7 days is not judged yet. Advice worth less than 1 kWh and less than 1 (of the currency) a
year is not given. A node's hours are read in its time zone (its owner's).

standby (base load): per night, the lowest hourly mean power between 00:00 and 05:00; the
    base load is the median over the nights with data (at least 7). Above 30 W it costs
    base_w × 8760 / 1000 kWh a year; switching off what need not stay on is taken to save
    half of that, priced at the off-peak (or flat) price, when a base load shows most. Not
    given for a node that never turns off (always_on): its base load is its work.
peak_shift (time-of-use tariffs only; user-wide, node None): the kWh used in peak hours
    (each hour's share inside the peak window), each node's scaled to a year by the days it
    covered; moving 20 % of them to off-peak hours saves 20 % × peak kWh × (peak price −
    off-peak price). It saves money, not energy: its kWh saving is 0.
power_factor: the node's mean power factor, weighted by readings, over the hours in which
    it drew at least 10 W (an idle meter reports a meaningless power factor). Below 0.9:
    wiring losses, taken as 3 % of its consumption a year, go as 1/pf²; corrected to 0.95
    they shrink by 1 − (pf / 0.95)². Priced at the node's mean price.
unusual: the last 7 days used more than 25 % above the node's mean week of the 3 weeks
    before (each of those 21 days with readings; a usual week of at least 1 kWh). Should it
    last, the excess × 52 a year, priced at the node's mean price.
always_on: over the last 7 days (6 of them with readings) the lowest hourly minimum power
    never fell below 60 % of the mean power, and the mean is above 50 W. Off 8 hours a night
    it would save min_w × 8 × 365 / 1000 kWh, at the off-peak price.

A node's mean price is the flat price, or on time-of-use the peak and off-peak prices
weighted by its own share of kWh in peak hours.

A dismissed piece of advice stays dismissed, with the figures the user dismissed, for as
long as it applies; it comes back when its saving (kWh; money for peak_shift) grows past
1.5 times those. Advice that no longer applies is deleted unless dismissed (so that the
dismissal holds should it apply again).
"""

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import EnergyProfile, HourRollup, Node, Recommendation
from .notifications import profile_of

Kind = Recommendation.Kind

WINDOW = timedelta(days=28)
LAST_WEEK = timedelta(days=7)
MIN_SPAN = timedelta(days=7)
HOURS_A_YEAR = 8760
MIN_SAVING_KWH = 1.0
MIN_SAVING_MONEY = Decimal(1)
RETURN_GROWTH = 1.5

NIGHT_END_HOUR = 5
MIN_NIGHTS = 7
STANDBY_FLOOR_W = 30.0
STANDBY_SHARE = 0.5

SHIFT_SHARE = 0.2

PF_THRESHOLD = 0.9
PF_TARGET = 0.95
PF_LOSS_SHARE = 0.03
PF_MIN_W = 10.0

UNUSUAL_RISE = 1.25
USUAL_WEEKS = 3
MIN_USUAL_WEEK_KWH = 1.0

ALWAYS_ON_RATIO = 0.6
ALWAYS_ON_MIN_MEAN_W = 50.0
ALWAYS_ON_MIN_DAYS = 6
OFF_HOURS_A_NIGHT = 8

ROLLUP_FIELDS = (
    "node_id",
    "start",
    "readings",
    "energy_used",
    "power_count",
    "power_sum",
    "power_min",
    "power_factor_count",
    "power_factor_sum",
)


@dataclass
class Hour:
    start: datetime
    readings: int
    kwh: float
    power_count: int
    power_sum: float
    power_min: float | None
    pf_count: int
    pf_sum: float

    @property
    def mean_w(self) -> float | None:
        return self.power_sum / self.power_count if self.power_count else None


@dataclass
class Tariff:
    """The user's prices as Decimals, the peak window as minutes after local midnight."""

    price: Decimal  # flat, and off-peak
    peak_price: Decimal
    peak: tuple[int, int] | None  # None: a flat tariff
    currency: str

    def money(self, kwh: float, price: Decimal | None = None) -> Decimal:
        price = self.price if price is None else price
        return (Decimal(repr(kwh)) * price).quantize(Decimal("0.01"), ROUND_HALF_UP)

    def peak_fraction(self, local_start: datetime) -> float:
        """The share of the hour starting at `local_start` inside the peak window."""
        if self.peak is None:
            return 0.0
        first, last = self.peak
        windows = [(first, last)] if first <= last else [(first, 1440), (0, last)]
        minute = local_start.hour * 60 + local_start.minute
        overlap = 0
        for begin, end in windows:
            for offset in (0, 1440):  # an hour starting at 23:30 runs past midnight
                overlap += max(0, min(minute + 60, end + offset) - max(minute, begin + offset))
        return overlap / 60


@dataclass
class NodeData:
    node: Node
    zone: ZoneInfo
    hours: list[Hour]
    span_hours: float  # from its first hour with data in the window to the window's end
    kwh: float
    peak_kwh: float  # the part of kwh used in peak hours (0 on a flat tariff)

    @property
    def year_factor(self) -> float:
        return HOURS_A_YEAR / self.span_hours


@dataclass
class Advice:
    node: Node | None
    kind: str
    title: str
    detail: str
    saving_kwh: float
    saving_money: Decimal
    evidence: dict = field(default_factory=dict)


# --- the service ------------------------------------------------------------------------


def compute(user, now: datetime | None = None) -> list[Recommendation]:
    """Judge the user's last 28 days and store the advice that applies; returns the user's
    current (not dismissed) recommendations, the most money saved first."""
    now = now or timezone.now()
    end = now.replace(minute=0, second=0, microsecond=0)
    tariff = _tariff(profile_of(user))
    node_list = list(Node.objects.filter(owner=user))
    data = _node_data(node_list, tariff, end - WINDOW, end)
    with translation.override(user.language or settings.LANGUAGE_CODE):
        found = _judge(data, tariff, end)
    return _store(user, node_list, found, tariff, now)


def _judge(data: list[NodeData], tariff: Tariff, end: datetime) -> list[Advice]:
    found = []
    for node_data in data:
        always_on = _always_on(node_data, tariff, end)
        found += [always_on] if always_on else [_standby(node_data, tariff)]
        found += [_power_factor(node_data, tariff), _unusual(node_data, tariff, end)]
    found.append(_peak_shift(data, tariff))
    return [advice for advice in found if advice is not None and _worth_it(advice)]


def _worth_it(advice: Advice) -> bool:
    return advice.saving_kwh >= MIN_SAVING_KWH or advice.saving_money >= MIN_SAVING_MONEY


# --- reading the data -------------------------------------------------------------------


def _tariff(profile: EnergyProfile) -> Tariff:
    peak = None
    if profile.tariff == EnergyProfile.Tariff.TIME_OF_USE:
        peak = (_minutes(profile.peak_start), _minutes(profile.peak_end))
    return Tariff(
        price=Decimal(str(profile.price)),
        peak_price=Decimal(str(profile.peak_price)),
        peak=peak,
        currency=profile.currency,
    )


def _minutes(value: time | str) -> int:
    value = time.fromisoformat(value) if isinstance(value, str) else value  # unsaved default
    return value.hour * 60 + value.minute


def _node_data(
    node_list: list[Node], tariff: Tariff, start: datetime, end: datetime
) -> list[NodeData]:
    by_node: dict[int, list[Hour]] = defaultdict(list)
    rows = (
        HourRollup.objects.filter(
            node_id__in=[node.pk for node in node_list], start__gte=start, start__lt=end
        )
        .order_by("node_id", "start")
        .values_list(*ROLLUP_FIELDS)
    )
    for node_id, *values in rows:
        by_node[node_id].append(Hour(*values))
    data = []
    for node in node_list:
        hours = [hour for hour in by_node.get(node.pk, []) if hour.readings]
        if not hours or end - hours[0].start < MIN_SPAN:
            continue
        zone = ZoneInfo(node.time_zone)
        data.append(
            NodeData(
                node,
                zone,
                hours,
                span_hours=(end - hours[0].start).total_seconds() / 3600,
                kwh=sum(hour.kwh for hour in hours),
                peak_kwh=sum(
                    hour.kwh * tariff.peak_fraction(hour.start.astimezone(zone)) for hour in hours
                ),
            )
        )
    return data


def _mean_price(data: NodeData, tariff: Tariff) -> Decimal:
    if tariff.peak is None or data.kwh <= 0:
        return tariff.price
    share = Decimal(repr(data.peak_kwh / data.kwh))
    return tariff.peak_price * share + tariff.price * (1 - share)


# --- the kinds --------------------------------------------------------------------------


def _standby(data: NodeData, tariff: Tariff) -> Advice | None:
    nights: dict[date, float] = {}
    for hour in data.hours:
        local = hour.start.astimezone(data.zone)
        if local.hour < NIGHT_END_HOUR and hour.mean_w is not None:
            night = local.date()
            nights[night] = min(nights.get(night, hour.mean_w), hour.mean_w)
    if len(nights) < MIN_NIGHTS:
        return None
    base_w = statistics.median(nights.values())
    if base_w <= STANDBY_FLOOR_W:
        return None
    standby_kwh = base_w * HOURS_A_YEAR / 1000
    saving_kwh = standby_kwh * STANDBY_SHARE
    saving_money = tariff.money(saving_kwh)
    figures = {
        "node": data.node.name,
        "watts": _n(base_w),
        "kwh": _n(standby_kwh),
        "money": _money(tariff.money(standby_kwh), tariff),
        "saving_kwh": _n(saving_kwh),
        "saving_money": _money(saving_money, tariff),
    }
    detail = ngettext(
        "Over %(nights)s night, its lowest hourly mean between midnight and 5 am was %(watts)s W.",
        "Over %(nights)s nights, its lowest hourly mean between midnight and 5 am was "
        "typically %(watts)s W.",
        len(nights),
    ) % {"nights": len(nights), **figures}
    detail += " " + (
        _(
            "Kept up all year, that base load is %(kwh)s kWh (%(money)s). Switching off what "
            "need not stay on (chargers, devices on standby, old appliances) could save about "
            "half of it: %(saving_kwh)s kWh, %(saving_money)s a year."
        )
        % figures
    )
    return Advice(
        node=data.node,
        kind=Kind.STANDBY,
        title=_("“%(node)s” draws %(watts)s W all night") % figures,
        detail=detail,
        saving_kwh=saving_kwh,
        saving_money=saving_money,
        evidence={
            "base_w": round(base_w, 1),
            "nights": len(nights),
            "night_hours": f"00:00-{NIGHT_END_HOUR:02d}:00",
            "time_zone": data.node.time_zone,
            "standby_kwh_year": round(standby_kwh, 1),
            "share_saved": STANDBY_SHARE,
            "price": str(tariff.price),
        },
    )


def _peak_shift(data: list[NodeData], tariff: Tariff) -> Advice | None:
    if tariff.peak is None or tariff.peak_price <= tariff.price or not data:
        return None
    per_node = sorted(
        ((d.peak_kwh * d.year_factor, d.node) for d in data),
        key=lambda item: -item[0],
    )
    peak_kwh = sum(kwh for kwh, _node in per_node)
    if peak_kwh <= 0:
        return None
    shifted_kwh = peak_kwh * SHIFT_SHARE
    saving_money = tariff.money(shifted_kwh, tariff.peak_price - tariff.price)
    first, last = tariff.peak
    figures = {
        "peak": f"{first // 60:02d}:{first % 60:02d}–{last // 60:02d}:{last % 60:02d}",
        "peak_kwh": _n(peak_kwh),
        "share": _n(SHIFT_SHARE * 100),
        "shifted_kwh": _n(shifted_kwh),
        "saving_money": _money(saving_money, tariff),
        "nodes": ", ".join(f"“{node.name}”" for kwh, node in per_node[:3] if kwh > 0),
    }
    return Advice(
        node=None,
        kind=Kind.PEAK_SHIFT,
        title=_("Move some use out of peak hours (%(peak)s)") % figures,
        detail=_(
            "At this rate you use %(peak_kwh)s kWh a year in peak hours (%(peak)s), most of it "
            "on %(nodes)s. Running %(share)s %% of that (%(shifted_kwh)s kWh: washing, "
            "charging, heating water) off-peak instead would save %(saving_money)s a year. It "
            "saves money, not energy."
        )
        % figures,
        saving_kwh=0.0,
        saving_money=saving_money,
        evidence={
            "peak_kwh_year": round(peak_kwh, 1),
            "shift_share": SHIFT_SHARE,
            "shifted_kwh_year": round(shifted_kwh, 1),
            "peak_price": str(tariff.peak_price),
            "price": str(tariff.price),
            "peak_hours": figures["peak"],
            "nodes": [
                {"device_id": node.device_id, "peak_kwh_year": round(kwh, 1)}
                for kwh, node in per_node
            ],
        },
    )


def _power_factor(data: NodeData, tariff: Tariff) -> Advice | None:
    loaded = [h for h in data.hours if h.pf_count and (h.mean_w or 0) >= PF_MIN_W]
    count = sum(hour.pf_count for hour in loaded)
    if not count:
        return None
    power_factor = sum(hour.pf_sum for hour in loaded) / count
    if power_factor >= PF_THRESHOLD:
        return None
    price = _mean_price(data, tariff)
    kwh_year = data.kwh * data.year_factor
    losses_kwh = kwh_year * PF_LOSS_SHARE
    saving_kwh = losses_kwh * (1 - (power_factor / PF_TARGET) ** 2)
    saving_money = tariff.money(saving_kwh, price)
    figures = {
        "node": data.node.name,
        "pf": number_format(power_factor, 2),
        "target": number_format(PF_TARGET, 2),
        "kwh_year": _n(kwh_year),
        "losses_kwh": _n(losses_kwh),
        "saving_kwh": _n(saving_kwh),
        "saving_money": _money(saving_money, tariff),
    }
    return Advice(
        node=data.node,
        kind=Kind.POWER_FACTOR,
        title=_("“%(node)s” has a poor power factor (%(pf)s)") % figures,
        detail=_(
            "Its mean power factor over the last 4 weeks was %(pf)s: it draws more current "
            "than the power it uses needs, and the wiring heats. Taking its losses as 3 %% "
            "of its %(kwh_year)s kWh a year (%(losses_kwh)s kWh), correcting it to %(target)s "
            "(a capacitor, or a more efficient motor or power supply) would save about "
            "%(saving_kwh)s kWh, %(saving_money)s a year."
        )
        % figures,
        saving_kwh=saving_kwh,
        saving_money=saving_money,
        evidence={
            "average_power_factor": round(power_factor, 3),
            "readings": count,
            "target_power_factor": PF_TARGET,
            "kwh_year": round(kwh_year, 1),
            "loss_share": PF_LOSS_SHARE,
            "losses_kwh_year": round(losses_kwh, 1),
            "price": str(price.quantize(Decimal("0.0001"))),
        },
    )


def _unusual(data: NodeData, tariff: Tariff, end: datetime) -> Advice | None:
    split, start = end - LAST_WEEK, end - WINDOW
    days_before = {(h.start - start) // timedelta(days=1) for h in data.hours if h.start < split}
    if len(days_before) < USUAL_WEEKS * 7:
        return None
    last_week_kwh = sum(hour.kwh for hour in data.hours if hour.start >= split)
    usual_week_kwh = sum(hour.kwh for hour in data.hours if hour.start < split) / USUAL_WEEKS
    if usual_week_kwh < MIN_USUAL_WEEK_KWH or last_week_kwh <= usual_week_kwh * UNUSUAL_RISE:
        return None
    excess_kwh = last_week_kwh - usual_week_kwh
    saving_kwh = excess_kwh * 52
    price = _mean_price(data, tariff)
    saving_money = tariff.money(saving_kwh, price)
    rise = (last_week_kwh / usual_week_kwh - 1) * 100
    figures = {
        "node": data.node.name,
        "rise": _n(rise),
        "last_week_kwh": _n(last_week_kwh, 1),
        "usual_week_kwh": _n(usual_week_kwh, 1),
        "saving_kwh": _n(saving_kwh),
        "saving_money": _money(saving_money, tariff),
    }
    return Advice(
        node=data.node,
        kind=Kind.UNUSUAL,
        title=_("“%(node)s” used %(rise)s %% more than usual last week") % figures,
        detail=_(
            "It used %(last_week_kwh)s kWh in the last 7 days against %(usual_week_kwh)s kWh "
            "in a usual week (the mean of the 3 weeks before). Something left on, or a fault? "
            "Should it last, the extra would cost %(saving_kwh)s kWh, %(saving_money)s a year."
        )
        % figures,
        saving_kwh=saving_kwh,
        saving_money=saving_money,
        evidence={
            "last_week_kwh": round(last_week_kwh, 2),
            "usual_week_kwh": round(usual_week_kwh, 2),
            "rise_percent": round(rise, 1),
            "excess_kwh": round(excess_kwh, 2),
            "price": str(price.quantize(Decimal("0.0001"))),
        },
    )


def _always_on(data: NodeData, tariff: Tariff, end: datetime) -> Advice | None:
    split = end - LAST_WEEK
    recent = [h for h in data.hours if h.start >= split and h.power_count]
    if len({(h.start - split) // timedelta(days=1) for h in recent}) < ALWAYS_ON_MIN_DAYS:
        return None
    mean_w = sum(h.power_sum for h in recent) / sum(h.power_count for h in recent)
    min_w = min(h.power_min for h in recent)
    if mean_w <= ALWAYS_ON_MIN_MEAN_W or min_w < ALWAYS_ON_RATIO * mean_w:
        return None
    saving_kwh = min_w * OFF_HOURS_A_NIGHT * 365 / 1000
    saving_money = tariff.money(saving_kwh)
    figures = {
        "node": data.node.name,
        "min_w": _n(min_w),
        "mean_w": _n(mean_w),
        "hours": OFF_HOURS_A_NIGHT,
        "saving_kwh": _n(saving_kwh),
        "saving_money": _money(saving_money, tariff),
    }
    return Advice(
        node=data.node,
        kind=Kind.ALWAYS_ON,
        title=_("“%(node)s” never turns off") % figures,
        detail=_(
            "In the last 7 days it never drew less than %(min_w)s W (%(mean_w)s W on average). "
            "If it need not run at night, switching it off %(hours)s hours a night (a timer, "
            "or an automation) would save about %(saving_kwh)s kWh, %(saving_money)s a year."
        )
        % figures,
        saving_kwh=saving_kwh,
        saving_money=saving_money,
        evidence={
            "min_w": round(min_w, 1),
            "mean_w": round(mean_w, 1),
            "hours_off_a_night": OFF_HOURS_A_NIGHT,
            "price": str(tariff.price),
        },
    )


def _n(value: float, decimals: int = 0) -> str:
    return number_format(round(value, decimals), decimals, force_grouping=True)


def _money(amount: Decimal, tariff: Tariff) -> str:
    return f"{number_format(amount, 2, force_grouping=True)} {tariff.currency}"


# --- storing ----------------------------------------------------------------------------


def _store(
    user, node_list: list[Node], found: list[Advice], tariff: Tariff, now: datetime
) -> list[Recommendation]:
    nodes = {node.pk: node for node in node_list}
    with transaction.atomic():
        _lock(user)
        stored = {(r.node_id, r.kind): r for r in Recommendation.objects.filter(owner=user)}
        created, changed, current = [], [], []
        for advice in found:
            key = (advice.node.pk if advice.node else None, advice.kind)
            recommendation = stored.pop(key, None)
            if recommendation is None:
                recommendation = Recommendation(owner=user, node=advice.node, kind=advice.kind)
                created.append(recommendation)
            elif recommendation.dismissed_at and not _grew(recommendation, advice):
                continue
            else:
                recommendation.dismissed_at = None
                changed.append(recommendation)
            _fill(recommendation, advice, tariff, now)
            current.append(recommendation)
        gone = [
            r.pk
            for r in stored.values()
            if r.dismissed_at is None or (r.node_id is not None and r.node_id not in nodes)
        ]
        Recommendation.objects.filter(pk__in=gone).delete()
        Recommendation.objects.bulk_create(created)
        Recommendation.objects.bulk_update(changed, [*_FILLED, "dismissed_at"])
    for recommendation in current:
        if recommendation.node_id is not None:
            recommendation.node = nodes[recommendation.node_id]
    return sorted(current, key=lambda r: (-r.saving_money_year, -r.saving_kwh_year))


def _lock(user) -> None:
    """One computation per user at a time (the daily command and a refresh click can meet):
    the unique constraint does not hold for user-wide advice, whose node is NULL."""
    users = get_user_model().objects.select_for_update().filter(pk=user.pk).order_by()
    list(users.values("pk"))


def _grew(recommendation: Recommendation, advice: Advice) -> bool:
    """Its saving is over 1.5 times the one the user dismissed."""
    if recommendation.saving_kwh_year > 0:
        return advice.saving_kwh > RETURN_GROWTH * recommendation.saving_kwh_year
    return advice.saving_money > Decimal(str(RETURN_GROWTH)) * recommendation.saving_money_year


_FILLED = [
    "title",
    "detail",
    "evidence",
    "saving_kwh_year",
    "saving_money_year",
    "currency",
    "computed_at",
]


def _fill(recommendation: Recommendation, advice: Advice, tariff: Tariff, now: datetime):
    recommendation.title = advice.title[:200]
    recommendation.detail = advice.detail
    recommendation.evidence = advice.evidence
    recommendation.saving_kwh_year = round(advice.saving_kwh, 2)
    recommendation.saving_money_year = advice.saving_money
    recommendation.currency = tariff.currency
    recommendation.computed_at = now
