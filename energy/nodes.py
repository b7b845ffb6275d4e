"""Nodes: creating, changing, removing and claiming meters, and their status."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import User
from accounts.services import device_key_create

from . import live, rollups
from .models import LinkState, Node, PendingDevice

# A node is offline after this many expected intervals without data.
OFFLINE_AFTER_INTERVALS = 3


class Status:
    ONLINE = "online"
    SILENT = "silent"
    OFFLINE = "offline"
    NEVER = "never"

    LABELS = {
        ONLINE: _("online"),
        SILENT: _("silent"),
        OFFLINE: _("offline"),
        NEVER: _("never reported"),
    }
    HELP = {
        ONLINE: _("Sending data."),
        SILENT: _("Connected (its status topic says online) but no recent data."),
        OFFLINE: _("Its last will fired, or no data for a few reporting intervals."),
        NEVER: _("No data yet: check the device id and key in the meter."),
    }


def node_status(node: Node, now: datetime | None = None) -> str:
    now = now or timezone.now()
    horizon = timedelta(seconds=OFFLINE_AFTER_INTERVALS * node.expected_interval)
    last = node.last_reading_at
    recent = last is not None and now - last <= horizon
    said_offline = node.link_state == LinkState.OFFLINE and (
        last is None or (node.link_state_at and node.link_state_at >= last)
    )
    if said_offline:
        return Status.OFFLINE
    if recent:
        return Status.ONLINE
    if node.link_state == LinkState.ONLINE:
        return Status.SILENT
    if last is None:
        return Status.NEVER
    return Status.OFFLINE


def _owner_zone(owner: User) -> str:
    return owner.time_zone or settings.TIME_ZONE


@transaction.atomic
def node_create(*, owner: User, device_id: str, name: str, **fields) -> tuple[Node, str]:
    """A new node with its own device key; returns (node, raw key), the key shown once."""
    key, raw_key = device_key_create(owner=owner, name=f"energy: {device_id}")
    node = Node(owner=owner, device_id=device_id, name=name, device_key=key, **fields)
    node.time_zone = _owner_zone(owner)
    node.full_clean()
    node.save()
    PendingDevice.objects.filter(device_id=device_id).delete()
    live.node_changed(node, "created")
    return node, raw_key


@transaction.atomic
def node_update(node: Node, **fields) -> Node:
    """Save a node's changes; one given to another owner moves its energy into their hours
    and its days into their time zone."""
    previous_owner = Node.objects.filter(pk=node.pk).values_list("owner_id", flat=True).get()
    for name, value in fields.items():
        setattr(node, name, value)
    node.full_clean()
    node.save()
    if node.owner_id != previous_owner:
        rollups.rebuild_owner_hours([previous_owner, node.owner_id])
        zone = _owner_zone(node.owner)
        if node.time_zone != zone:
            rollups.rebuild_days(node, zone)
            node.time_zone = zone
    live.node_changed(node, "updated")
    return node


@transaction.atomic
def node_delete(node: Node) -> None:
    """Remove a node, its readings and rollups, and revoke its device key."""
    key, owner_id = node.device_key, node.owner_id
    live.node_changed(node, "deleted")
    node.delete()
    rollups.rebuild_owner_hours([owner_id])
    if key is not None and key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


def node_rotate_key(node: Node) -> str:
    """Revoke the node's key and give it a new one; returns the new raw key."""
    with transaction.atomic():
        old = node.device_key
        key, raw_key = device_key_create(owner=node.owner, name=f"energy: {node.device_id}")
        node.device_key = key
        node.save(update_fields=["device_key"])
        if old is not None:
            old.revoked_at = timezone.now()
            old.save(update_fields=["revoked_at"])
    return raw_key


def claim_pending(pending: PendingDevice, *, owner: User, name: str = "") -> tuple[Node, str]:
    """Turn a device id that reported unannounced into a node of `owner`."""
    return node_create(owner=owner, device_id=pending.device_id, name=name or pending.device_id)


def set_link_state(device_id: str, state: str, at: datetime | None = None) -> Node | None:
    """Record what a meter said on its status topic; None for an unknown device."""
    if state not in (LinkState.ONLINE, LinkState.OFFLINE):
        raise ValueError(f"unknown link state {state!r}")
    at = at or timezone.now()
    node = Node.objects.filter(device_id=device_id).first()
    if node is None:
        return None
    node.link_state, node.link_state_at, node.last_seen_at = state, at, at
    node.save(update_fields=["link_state", "link_state_at", "last_seen_at"])
    live.node_changed(node, "link")
    return node


@receiver(post_save, sender=User)
def _follow_owner_time_zone(sender, instance: User, **kwargs):
    zone = _owner_zone(instance)
    for node in Node.objects.filter(owner=instance).exclude(time_zone=zone):
        rollups.rebuild_days(node, zone)
