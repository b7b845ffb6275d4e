import re

import pytest
from django.core import mail
from django.urls import reverse

from conftest import PASSWORD, client_for


@pytest.mark.django_db
def test_password_change_needs_the_old_password_and_takes_effect(client, viewer):
    logged_in = client_for(viewer)
    wrong = logged_in.post(
        reverse("password_change"),
        {
            "old_password": "wrong",
            "new_password1": "a-new-long-secret",
            "new_password2": "a-new-long-secret",
        },
    )
    assert wrong.status_code == 200
    ok = logged_in.post(
        reverse("password_change"),
        {
            "old_password": PASSWORD,
            "new_password1": "a-new-long-secret",
            "new_password2": "a-new-long-secret",
        },
    )
    assert ok.status_code == 302
    assert client.login(username=viewer.email, password="a-new-long-secret")
    assert not client.login(username=viewer.email, password=PASSWORD)


@pytest.mark.django_db
def test_password_reset_by_email_link(client, viewer, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    client.post(reverse("password_reset"), {"email": viewer.email})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [viewer.email]
    link = re.search(r"https?://[^/]+(/\S+)", mail.outbox[0].body).group(1)

    form_page = client.get(link, follow=True)
    assert form_page.context["validlink"]
    client.post(
        form_page.redirect_chain[-1][0],
        {"new_password1": "reset-to-this-one", "new_password2": "reset-to-this-one"},
    )
    assert client.login(username=viewer.email, password="reset-to-this-one")


@pytest.mark.django_db
def test_password_reset_for_an_unknown_address_sends_nothing_and_reveals_nothing(client, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert mail.outbox == []
