"""Live events of the traffic domain. Groups:

- `traffic.intersection.<id>`: "counts" when a camera of the intersection reports an interval
  (its counts per line, direction and class), "status" of a camera (online, fps), "snapshot"
  when a camera sends a new picture of its view.

Only people who may view counts subscribe.
"""

from flowsuite import live


def intersection_group(intersection_id: int) -> str:
    return f"traffic.intersection.{intersection_id}"


def may_subscribe(user, group: str) -> bool:
    parts = group.split(".")
    if len(parts) == 3 and parts[1] == "intersection" and parts[2].isdigit():
        return user.has_perm("traffic.view_count")
    return False


def register() -> None:
    live.register_domain("traffic", may_subscribe)
