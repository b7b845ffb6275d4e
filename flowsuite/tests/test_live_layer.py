"""The live-update layer through a real websocket: the ASGI application, the auth middleware,
the origin check and a real channel layer (in-memory, and Redis)."""

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from conftest import client_for, make_user
from flowsuite import live
from flowsuite.asgi import application

pytestmark = [pytest.mark.backend, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def session_cookie(email: str) -> tuple[int, bytes]:
    user = make_user(email)
    cookie = client_for(user).cookies["sessionid"].value
    return user.pk, f"sessionid={cookie}".encode()


async def connect(cookie: bytes | None = None, origin: bytes = b"http://localhost"):
    headers = [(b"origin", origin)] + ([(b"cookie", cookie)] if cookie else [])
    communicator = WebsocketCommunicator(application, "/ws/live/", headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


async def subscribe(communicator, *groups):
    await communicator.send_json_to({"action": "subscribe", "groups": list(groups)})
    return await communicator.receive_json_from(timeout=5)


async def test_a_subscriber_receives_an_event_only_once_the_transaction_commits(channel_layer):
    user_id, cookie = await session_cookie("alice@example.com")
    alice, connected = await connect(cookie)
    assert connected
    group = f"user.{user_id}"
    assert await subscribe(alice, group) == {"type": "subscribed", "groups": [group], "refused": []}

    @database_sync_to_async
    def publish_in_a_transaction():
        with transaction.atomic():
            live.publish(group, "notify", {"message": "meter claimed"})
            # Still inside the transaction: nothing may have been sent yet.
            assert async_to_sync(alice.receive_nothing)(timeout=0.3)

    await publish_in_a_transaction()
    event = await alice.receive_json_from(timeout=5)
    assert event["group"] == group
    assert event["type"] == "notify"
    assert event["data"] == {"message": "meter claimed"}
    assert event["sent_at"]
    await alice.disconnect()


async def test_an_event_of_a_rolled_back_transaction_is_never_sent(channel_layer):
    user_id, cookie = await session_cookie("alice@example.com")
    alice, _ = await connect(cookie)
    await subscribe(alice, f"user.{user_id}")

    @database_sync_to_async
    def publish_then_roll_back():
        with pytest.raises(RuntimeError), transaction.atomic():
            live.publish(f"user.{user_id}", "notify", {"message": "never"})
            raise RuntimeError

    await publish_then_roll_back()
    assert await alice.receive_nothing(timeout=0.5)
    await alice.disconnect()


async def test_a_user_may_not_follow_someone_elses_group(channel_layer):
    alice_id, _ = await session_cookie("alice@example.com")
    _, bob_cookie = await session_cookie("bob@example.com")
    bob, connected = await connect(bob_cookie)
    assert connected
    reply = await subscribe(bob, f"user.{alice_id}", "nosuchdomain.thing", "bad group!")
    assert reply == {
        "type": "subscribed",
        "groups": [],
        "refused": [f"user.{alice_id}", "nosuchdomain.thing", "bad group!"],
    }

    await database_sync_to_async(live.publish)(f"user.{alice_id}", "notify", {"message": "x"})
    assert await bob.receive_nothing(timeout=0.5)
    await bob.disconnect()


async def test_anonymous_connections_are_refused(channel_layer):
    _, connected = await connect(cookie=None)
    assert not connected


async def test_connections_from_another_origin_are_refused(channel_layer):
    _, cookie = await session_cookie("alice@example.com")
    _, connected = await connect(cookie, origin=b"https://evil.example")
    assert not connected


async def test_a_malformed_message_gets_an_error_and_the_socket_stays_up(channel_layer):
    user_id, cookie = await session_cookie("alice@example.com")
    alice, _ = await connect(cookie)
    await alice.send_json_to({"action": "subscribe", "groups": "user.1"})
    assert (await alice.receive_json_from())["type"] == "error"
    reply = await subscribe(alice, f"user.{user_id}")
    assert reply["groups"] == [f"user.{user_id}"]
    await alice.disconnect()


async def test_subscribing_to_system_status_sends_the_current_state_at_once(channel_layer):
    _, cookie = await session_cookie("alice@example.com")
    alice, _ = await connect(cookie)
    await subscribe(alice, "system.status")
    event = await alice.receive_json_from(timeout=10)
    assert event["type"] == "status"
    services = {s["service"]: s["state"] for s in event["data"]["services"]}
    assert services == {"database": "ok", "channel_layer": "ok", "mqtt": "not_configured"}, event[
        "data"
    ]["services"][1]
    await alice.disconnect()


async def test_creating_an_api_token_warns_every_open_page_of_its_owner(channel_layer):
    from accounts import services
    from accounts.models import User

    user_id, cookie = await session_cookie("alice@example.com")
    alice, _ = await connect(cookie)
    await subscribe(alice, f"user.{user_id}")

    @database_sync_to_async
    def create_token():
        services.api_token_create(user=User.objects.get(pk=user_id), name="ci")

    await create_token()
    event = await alice.receive_json_from(timeout=5)
    assert event["type"] == "notify"
    assert event["data"] == {
        "message": "A new API token “ci” was created for your account.",
        "level": "warning",
    }
    await alice.disconnect()
