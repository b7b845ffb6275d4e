"""Alert rules, judged inside the ingest transaction, incrementally.

A threshold rule keeps, per node, when its condition started to hold (RuleState.since) and
whether its alert is open (RuleState.active); each new reading moves that state, so no
reading is ever read back. A state row exists only while it differs from "nothing going on",
so a batch of normal readings costs one small query. Budget rules compare the day's or month's
kWh of the rollups the ingest service just updated; offline rules are judged by the worker
(energy.worker) and resolved here when the node reports again.
"""

import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import Q, Sum
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from . import alerts
from .ingest import readings_stored
from .magnitudes import BY_KEY, SAMPLED
from .models import AlertRule, Comparison, DayRollup, Node, RuleState

Kind = AlertRule.Kind
RULES_TTL = 2.0  # seconds another process's rule edits take to be seen by this one


@dataclass
class State:
    since: datetime | None = None
    active: bool = False
    row_id: int | None = None
    changed: bool = False


# --- which rules apply (cached: the ingest path must not load them per batch) ----------

_cache: dict = {"loaded_at": -1e9, "by_node": {}, "by_owner": {}}


@receiver([post_save, post_delete], sender=AlertRule)
def _forget_rules(**kwargs):
    _cache["loaded_at"] = -1e9


def forget_rules() -> None:
    """Drop this process's cached rules (tests, after a rollback)."""
    _forget_rules()


def _rules_for(node_id: int, owner_id: int) -> list[AlertRule]:
    if time.monotonic() - _cache["loaded_at"] > RULES_TTL:
        by_node, by_owner = defaultdict(list), defaultdict(list)
        for rule in AlertRule.objects.filter(enabled=True):
            (by_node[rule.node_id] if rule.node_id else by_owner[rule.owner_id]).append(rule)
        _cache.update(loaded_at=time.monotonic(), by_node=by_node, by_owner=by_owner)
    return _cache["by_node"].get(node_id, []) + _cache["by_owner"].get(owner_id, [])


def rules_of_node(node: Node) -> list[AlertRule]:
    return _rules_for(node.pk, node.owner_id)


# --- threshold: the condition and its clearing, with hysteresis ------------------------


def breaches(rule: AlertRule, value: float) -> bool:
    if rule.comparison == Comparison.ABOVE:
        return value > rule.threshold
    if rule.comparison == Comparison.BELOW:
        return value < rule.threshold
    return value < rule.threshold or value > rule.threshold_high


def clears(rule: AlertRule, value: float) -> bool:
    """Whether an open alert's value is back far enough: past the threshold by the
    hysteresis, so that a value hovering at the threshold does not open and close it."""
    margin = rule.hysteresis
    if rule.comparison == Comparison.ABOVE:
        return value <= rule.threshold - margin
    if rule.comparison == Comparison.BELOW:
        return value >= rule.threshold + margin
    return rule.threshold + margin <= value <= rule.threshold_high - margin


def step(rule: AlertRule, state: State, ts: datetime, value: float) -> str | None:
    """Move a threshold rule's state with one reading; returns "open", "resolve" or None."""
    if state.active:
        if clears(rule, value):
            state.active, state.since, state.changed = False, None, True
            return "resolve"
        return None
    if not breaches(rule, value):
        if state.since is not None:
            state.since, state.changed = None, True
        return None
    if state.since is None:
        state.since, state.changed = ts, True
    if (ts - state.since).total_seconds() >= rule.duration:
        state.active, state.changed = True, True
        return "open"
    return None


# --- in the ingest transaction ---------------------------------------------------------


@receiver(readings_stored)
def evaluate(sender, nodes, readings, **kwargs):
    node_states = {node.id: node for node in nodes.values()}
    applicable = {
        node_id: rules
        for node_id, node in node_states.items()
        if (rules := _rules_for(node_id, node.owner_id))
    }
    if not applicable:
        return
    states = _load_states(applicable)
    by_node = defaultdict(list)
    for reading in readings:
        if reading.node_id in applicable:
            by_node[reading.node_id].append(reading)
    events = []  # (open | resolve, rule, node_id, at, values), applied once all is judged
    for node_id, node_readings in by_node.items():
        node_readings.sort(key=lambda r: r.ts)
        for rule in applicable[node_id]:
            if rule.kind == Kind.THRESHOLD:
                events += _judge_threshold(rule, node_id, states, node_readings)
                continue
            state = states.get((rule.pk, node_id))
            if rule.kind == Kind.OFFLINE and state is not None and state.active:
                state.active, state.since, state.changed = False, None, True
                events.append(("resolve", rule, node_id, node_readings[-1].ts, {"reported": True}))
    events += _judge_budgets(applicable, node_states, states)
    gone = _rules_gone(states, events)
    _save_states({key: state for key, state in states.items() if key[0] not in gone})
    for outcome, rule, node_id, at, values in events:
        if rule.pk in gone:
            continue
        if outcome == "open":
            alerts.open_for_rule(rule, node_id, at, values)
        else:
            alerts.resolve(rule, node_id, at, values)


def _rules_gone(states, events) -> set[int]:
    """Rules deleted by another process since this one cached them: their state and alerts
    are not written (rare, so checked only when something is to be written)."""
    touched = {rule_id for (rule_id, _), state in states.items() if state.changed}
    touched |= {rule.pk for _, rule, *_ in events}
    if not touched:
        return set()
    gone = touched - set(AlertRule.objects.filter(pk__in=touched).values_list("pk", flat=True))
    if gone:
        _forget_rules()
    return gone


def _judge_threshold(rule, node_id, states, readings) -> list[tuple]:
    key = rule.magnitude
    state = states.get((rule.pk, node_id))
    if state is None:
        # Nothing going on (the common case): skip to the first reading that breaches.
        first = _first_breach(rule, key, readings)
        if first is None:
            return []
        state = states[(rule.pk, node_id)] = State()
        readings = readings[first:]
    events = []
    for reading in readings:
        value = reading.values.get(key)
        if value is None:
            continue
        outcome = step(rule, state, reading.ts, value)
        if outcome == "open":
            values = _threshold_values(rule, state, value)
            events.append(("open", rule, node_id, reading.ts, values))
        elif outcome == "resolve":
            events.append(("resolve", rule, node_id, reading.ts, {key: value}))
    return events


def _first_breach(rule, key, readings) -> int | None:
    for index, reading in enumerate(readings):
        value = reading.values.get(key)
        if value is not None and breaches(rule, value):
            return index
    return None


def _threshold_values(rule, state, value) -> dict:
    unit = BY_KEY[rule.magnitude].unit
    return {
        rule.magnitude: value,
        "unit": unit,
        "threshold": rule.threshold,
        "threshold_high": rule.threshold_high,
        "since": state.since.isoformat(),
    }


def _judge_budgets(applicable, node_states, states) -> list[tuple]:
    budget_rules = [
        (node_id, rule)
        for node_id, rules in applicable.items()
        for rule in rules
        if rule.kind == Kind.BUDGET and rule.budget_kwh is not None
    ]
    events = []
    if not budget_rules:
        return events
    now = timezone.now()
    spans = {}  # (node_id, rule) -> (first day, today) in the node's zone
    for node_id, rule in budget_rules:
        today = now.astimezone(node_states[node_id].zone).date()
        first = today if rule.budget_period == AlertRule.Period.DAY else today.replace(day=1)
        spans[(node_id, rule.pk)] = (first, today)
    used = {}
    for first, today in set(spans.values()):  # one query per distinct period, all nodes
        ids = [node_id for (node_id, _), span in spans.items() if span == (first, today)]
        totals = (
            DayRollup.objects.filter(node_id__in=ids, start__gte=first, start__lte=today)
            .values("node_id")
            .annotate(kwh=Sum("energy_used"))
            .values_list("node_id", "kwh")
        )
        used.update({(node_id, first, today): kwh for node_id, kwh in totals})
    for node_id, rule in budget_rules:
        first, today = spans[(node_id, rule.pk)]
        kwh = used.get((node_id, first, today)) or 0.0
        state = states.setdefault((rule.pk, node_id), State())
        if kwh > rule.budget_kwh and not state.active:
            state.active, state.since, state.changed = True, now, True
            values = {"kwh": round(kwh, 3), "budget_kwh": rule.budget_kwh, "from": str(first)}
            events.append(("open", rule, node_id, now, values))
    return events


def _load_states(applicable) -> dict[tuple[int, int], State]:
    # States exist only while something is going on: all of these nodes' are few.
    rows = RuleState.objects.filter(node_id__in=applicable).values_list(
        "pk", "rule_id", "node_id", "since", "active"
    )
    return {
        (rule_id, node_id): State(since=since, active=active, row_id=pk)
        for pk, rule_id, node_id, since, active in rows
    }


def _save_states(states: dict[tuple[int, int], State]) -> None:
    for (rule_id, node_id), state in states.items():
        if not state.changed:
            continue
        if state.since is None and not state.active:
            if state.row_id:
                RuleState.objects.filter(pk=state.row_id).delete()
        elif state.row_id:
            RuleState.objects.filter(pk=state.row_id).update(since=state.since, active=state.active)
        else:
            RuleState.objects.create(
                rule_id=rule_id, node_id=node_id, since=state.since, active=state.active
            )


# --- budgets roll over; offline is judged by the clock ---------------------------------


def check_clock(now: datetime | None = None) -> dict[str, int]:
    """What only time can tell (the worker runs it): nodes silent for longer than their
    offline rules allow, and budget alerts of a day or month that has ended."""
    now = now or timezone.now()
    opened = resolved = 0
    rules = AlertRule.objects.filter(enabled=True, kind__in=[Kind.OFFLINE, Kind.BUDGET])
    for rule in rules.select_related("node"):
        node_list = [rule.node] if rule.node else Node.objects.filter(owner_id=rule.owner_id)
        for node in node_list:
            if rule.kind == Kind.OFFLINE:
                opened += _judge_offline(rule, node, now)
            else:
                resolved += _roll_budget(rule, node, now)
    return {"opened": opened, "resolved": resolved}


def _judge_offline(rule: AlertRule, node: Node, now: datetime) -> int:
    last = node.last_reading_at or node.created_at
    silent = (now - last).total_seconds()
    if silent <= rule.offline_intervals * node.expected_interval:
        return 0
    state, _ = RuleState.objects.get_or_create(rule=rule, node=node)
    if state.active:
        return 0
    state.active, state.since = True, last
    state.save(update_fields=["active", "since"])
    values = {
        "last_reading_at": node.last_reading_at.isoformat() if node.last_reading_at else None,
        "silent_seconds": round(silent),
        "expected_interval": node.expected_interval,
    }
    alerts.open_for_rule(rule, node.pk, now, values)
    return 1


def _roll_budget(rule: AlertRule, node: Node, now: datetime) -> int:
    state = RuleState.objects.filter(rule=rule, node=node, active=True).first()
    if state is None or state.since is None:
        return 0
    zone = ZoneInfo(node.time_zone)
    then, today = state.since.astimezone(zone).date(), now.astimezone(zone).date()
    same = (
        then == today
        if rule.budget_period == AlertRule.Period.DAY
        else ((then.year, then.month) == (today.year, today.month))
    )
    if same:
        return 0
    state.delete()
    alerts.resolve(rule, node.pk, now, {"new_period": str(today)})
    return 1


def validate(rule: AlertRule) -> None:
    """What makes a rule whole, and that it reads only its owner's nodes."""
    errors = {}
    if rule.node_id and rule.node.owner_id != rule.owner_id:
        errors["node"] = _("Choose one of your own nodes.")
    if rule.kind == Kind.THRESHOLD:
        if rule.magnitude not in {m.key for m in SAMPLED}:
            errors["magnitude"] = _("Choose the magnitude to watch.")
        if not rule.comparison:
            errors["comparison"] = _("Choose above, below or outside.")
        if rule.threshold is None:
            errors["threshold"] = _("Give the threshold.")
        if rule.comparison == Comparison.OUTSIDE and (
            rule.threshold_high is None
            or rule.threshold is not None
            and rule.threshold_high <= rule.threshold + 2 * rule.hysteresis
        ):
            errors["threshold_high"] = _(
                "Give an upper threshold above the lower one (by more than twice the hysteresis)."
            )
    elif rule.kind == Kind.BUDGET:
        if not rule.budget_kwh or rule.budget_kwh <= 0:
            errors["budget_kwh"] = _("Give the budget in kWh.")
        if not rule.budget_period:
            errors["budget_period"] = _("Choose per day or per month.")
    if errors:
        raise ValidationError(errors)


def visible_rules(user):
    if user.has_perm("energy.view_all_nodes"):
        return AlertRule.objects.all()
    return AlertRule.objects.filter(Q(owner=user))
