"""Live events of the energy domain. Groups:

- `energy.node.<id>`: "reading" with the newest values of one node (its dashboard);
- `energy.owner.<user id>` and `energy.all` (admins): "nodes" with the summaries of the nodes
  that reported in a batch (the panel), and "node" when one node's state changes otherwise.

A node's events are sent at most once per ENERGY_LIVE_INTERVAL: a meter reporting ten times a
second still costs a browser one event a second, the newest.
"""

import random
import time
from collections import defaultdict

from django.conf import settings

from flowsuite import live

from .models import Node

_last_sent: dict[int, float] = {}


def forget_throttle() -> None:
    """Forget when each node last published (tests: node ids come back after a rollback)."""
    _last_sent.clear()


def may_subscribe(user, group: str) -> bool:
    parts = group.split(".")
    if group == "energy.all":
        return user.has_perm("energy.view_all_nodes")
    if len(parts) != 3 or not parts[2].isdigit():
        return False
    if parts[1] == "owner":
        return int(parts[2]) == user.pk or user.has_perm("energy.view_all_nodes")
    if parts[1] == "node":
        return Node.objects.visible_to(user).filter(pk=int(parts[2])).exists()
    return False


def node_group(node_id: int) -> str:
    return f"energy.node.{node_id}"


def owner_groups(owner_id: int) -> list[str]:
    return [f"energy.owner.{owner_id}", "energy.all"]


def readings_stored(nodes: dict, readings: list) -> None:
    """Publish, after commit, the newest reading of each node not sent too recently."""
    newest = {}
    for reading in readings:
        if reading.node_id not in newest or reading.ts > newest[reading.node_id].ts:
            newest[reading.node_id] = reading
    by_id = {node.id: node for node in nodes.values()}
    now = time.monotonic()
    events = []
    summaries: dict[str, list] = defaultdict(list)
    interval = settings.ENERGY_LIVE_INTERVAL
    for node_id, reading in newest.items():
        if node_id not in _last_sent:
            # Each node gets its own phase in the window: meters that report together do
            # not all push (and browsers all receive) in the same instant every interval.
            _last_sent[node_id] = now - interval - random.random() * interval
        if now - _last_sent[node_id] < interval:
            continue
        _last_sent[node_id] = now
        node = by_id[node_id]
        data = {
            "node": node_id,
            "device_id": node.device_id,
            "ts": reading.ts,
            "values": reading.values,
            "energy_used": reading.energy_used,
        }
        events.append((node_group(node_id), "reading", data))
        summary = {"node": node_id, "latest": node.latest, "last_reading_at": node.last_reading_at}
        for group in owner_groups(node.owner_id):
            summaries[group].append(summary)
    # One event per panel group for the whole batch: a hundred meters reporting together are
    # a hundred node events, but only a few panels.
    events += [(group, "nodes", {"nodes": nodes}) for group, nodes in summaries.items()]
    live.publish_many(events)


def node_changed(node: Node, event: str = "node") -> None:
    """A node's state changed outside readings (its status topic, an edit): tell the panels."""
    data = {"node": node.pk, "link_state": node.link_state, "changed": event}
    for group in owner_groups(node.owner_id):
        live.publish(group, "node", data)
    live.publish(node_group(node.pk), "status", data)
