import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from conftest import client_for, make_user
from flowsuite.asgi import application
from gatepass.scanning import scan

from .factories import make_driver, make_station, token_of

pytestmark = [pytest.mark.backend, pytest.mark.django_db(transaction=True)]


@database_sync_to_async
def cookie_of(email, *, with_role=True):
    user = make_user(email)
    if not with_role:
        user.groups.clear()
    return f"sessionid={client_for(user).cookies['sessionid'].value}".encode()


async def follow_movements(cookie):
    socket = WebsocketCommunicator(
        application, "/ws/live/", headers=[(b"origin", b"http://localhost"), (b"cookie", cookie)]
    )
    assert (await socket.connect())[0]
    await socket.send_json_to({"action": "subscribe", "groups": ["gatepass.movements"]})
    return socket, await socket.receive_json_from(timeout=5)


async def test_people_who_may_see_movements_get_each_scan_live_others_are_refused(guard):
    viewer_socket, viewer_reply = await follow_movements(await cookie_of("v@example.com"))
    nobody_socket, nobody_reply = await follow_movements(
        await cookie_of("n@example.com", with_role=False)
    )
    assert viewer_reply["groups"] == ["gatepass.movements"]
    assert nobody_reply["refused"] == ["gatepass.movements"]

    @database_sync_to_async
    def a_scan():
        driver = make_driver()
        gate = make_station(guards=[guard])
        return scan(station=gate, guard=guard, token=token_of(driver)).movement

    movement = await a_scan()
    event = await viewer_socket.receive_json_from(timeout=5)
    assert (event["type"], event["data"]["id"]) == ("movement", movement.pk)
    assert event["data"]["driver"]["name"] == "Juan Pérez"
    assert await nobody_socket.receive_nothing(timeout=0.5)
    await viewer_socket.disconnect()
    await nobody_socket.disconnect()
