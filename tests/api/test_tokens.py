"""API tokens: issued once and stored hashed, scoped, expiring, revocable, last use throttled,
and every issuance, revocation and refused use audited."""

import datetime as dt
import hashlib

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from apps.api.models import ApiToken
from apps.api.services import TokenRefused, token_authenticate, token_issue, token_revoke
from apps.audit.models import AuditEvent
from apps.core.errors import PermissionRefused, ValidationFailed
from tests.support.clients import bearer, issue

pytestmark = pytest.mark.django_db


def _in(days: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(days=days)


def test_a_token_is_stored_only_as_its_hash_and_issuance_is_audited(grc_lead):
    issued = token_issue(actor=grc_lead, name="ticketing sync", scope="read", expires_at=_in(30))
    token = ApiToken.objects.get()
    assert issued.plaintext.startswith(f"kt_{token.public_id}_")
    assert len(issued.plaintext) > 50
    assert token.secret_sha256 == hashlib.sha256(issued.plaintext.encode()).hexdigest()
    secret_part = issued.plaintext.rsplit("_", 1)[1]
    assert all(secret_part not in str(v) for v in ApiToken.objects.values().get().values())
    event = AuditEvent.objects.get(event_type="api_token.issued")
    assert event.changes["public_id"] == token.public_id and event.changes["scope"] == "read"
    assert secret_part not in str(event.changes)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "", "scope": "read", "expires_at": _in(5)}, "Name"),
        ({"name": "x", "scope": "admin", "expires_at": _in(5)}, "Scope"),
        ({"name": "x", "scope": "read", "expires_at": None}, "every token must expire"),
        ({"name": "x", "scope": "read", "expires_at": _in(-1)}, "future"),
        ({"name": "x", "scope": "read", "expires_at": _in(91)}, "at most 90 days"),
    ],
)
def test_issuing_refuses_bad_input_and_stores_nothing(grc_lead, kwargs, message):
    with pytest.raises(ValidationFailed, match=message):
        token_issue(actor=grc_lead, **kwargs)
    assert not ApiToken.objects.exists()


def test_a_bearer_token_authenticates_its_owner_and_last_use_is_throttled(grc_lead):
    plaintext = issue(grc_lead, scope="read")
    client = bearer(plaintext)
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        assert client.get(reverse("api:source-list")).status_code == 200
        first = ApiToken.objects.get().last_used_at
        assert first is not None
        traveller.shift(dt.timedelta(seconds=30))
        client.get(reverse("api:source-list"))
        assert ApiToken.objects.get().last_used_at == first  # at most once a minute
        traveller.shift(dt.timedelta(seconds=31))
        client.get(reverse("api:source-list"))
        assert ApiToken.objects.get().last_used_at > first


def test_a_read_only_token_may_not_write(grc_lead):
    response = bearer(issue(grc_lead, scope="read")).post(reverse("api:run-list"), {}, format="json")
    assert response.status_code == 403
    assert "read-only" in response.json()["detail"]


def test_every_refusal_of_a_read_only_token_is_audited(grc_lead):
    """Issue #19 item 5: docs/api.md says a read-only token's refused writes are recorded."""
    plaintext = issue(grc_lead, scope="read")
    token = ApiToken.objects.get()
    client = bearer(plaintext)
    paths = [reverse("api:run-list"), reverse("api:run-list") + "?x=1"]
    assert [client.post(path, {}, format="json").status_code for path in paths] == [403, 403]
    assert client.get(reverse("api:run-list")).status_code == 200  # reading is not a refusal
    denied = AuditEvent.objects.filter(event_type="access.denied", actor=grc_lead).order_by("seq")
    assert [e.changes["path"] for e in denied] == paths
    assert all(token.public_id in e.changes["permission"] and "read-only" in e.changes["permission"] for e in denied)
    assert all(plaintext not in str(e.changes) for e in denied)  # the secret never reaches the trail


@pytest.mark.parametrize("header", ["Bearer kt_nonsense", "Bearer kt_0123456789ab_wrong", "Bearer", "Bearer a b"])
def test_unknown_or_malformed_tokens_get_401(db, header):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(reverse("api:source-list"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_token_with_the_right_id_but_wrong_secret_is_refused(grc_lead):
    plaintext = issue(grc_lead)
    forged = plaintext[:-4] + ("AAAA" if not plaintext.endswith("AAAA") else "BBBB")
    with pytest.raises(TokenRefused):
        token_authenticate(plaintext=forged)
    assert bearer(forged).get(reverse("api:source-list")).status_code == 401


def test_expired_and_revoked_tokens_get_401_and_their_use_is_audited(grc_lead):
    expired = issue(grc_lead, days=1, name="short")
    revoked_plain = issue(grc_lead, name="gone")
    token_revoke(actor=grc_lead, token=ApiToken.objects.get(name="gone"))
    with time_machine.travel(timezone.now() + dt.timedelta(days=2)):
        assert bearer(expired).get(reverse("api:source-list")).status_code == 401
    assert bearer(revoked_plain).get(reverse("api:source-list")).status_code == 401
    reasons = sorted(AuditEvent.objects.filter(event_type="api_token.refused").values_list("changes__reason", flat=True))
    assert reasons == ["expired", "revoked"]
    assert AuditEvent.objects.filter(event_type="api_token.revoked").count() == 1


def test_only_the_owner_or_a_grc_lead_revokes_a_token(grc_lead, approver, reviewer):
    token = token_issue(actor=reviewer, name="mine", scope="read", expires_at=_in(3)).token
    with pytest.raises(PermissionRefused):
        token_revoke(actor=approver, token=token)
    token_revoke(actor=grc_lead, token=token)
    token.refresh_from_db()
    assert token.state == "revoked" and token.revoked_by == grc_lead


def test_a_deactivated_owner_s_token_stops_working(reviewer):
    plaintext = issue(reviewer)
    reviewer.is_active = False
    reviewer.save(update_fields=["is_active"])
    assert bearer(plaintext).get(reverse("api:source-list")).status_code == 401


def test_session_auth_keeps_csrf(client, grc_lead):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(grc_lead)
    assert csrf_client.get(reverse("api:source-list")).status_code == 200
    assert csrf_client.post(reverse("api:run-list"), {}, content_type="application/json").status_code == 403


# --- the pages ---------------------------------------------------------------------------------


def test_my_tokens_page_shows_a_new_token_once(client, reviewer):
    client.force_login(reviewer)
    day = (timezone.now() + dt.timedelta(days=10)).date().isoformat()
    response = client.post(reverse("tokens:mine"), {"name": "laptop <script>", "scope": "read", "expires_on": day})
    assert response.status_code == 200
    token = ApiToken.objects.get(user=reviewer)
    body = response.content.decode()
    plaintext = body.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert plaintext.startswith(f"kt_{token.public_id}_")
    assert token.secret_sha256 == hashlib.sha256(plaintext.encode()).hexdigest()
    assert "laptop &lt;script&gt;" in body and "laptop <script>" not in body
    assert response["Cache-Control"] == "no-store"
    again = client.get(reverse("tokens:mine")).content.decode()
    assert plaintext not in again and token.prefix in again


def test_my_tokens_page_refuses_an_expiry_past_the_maximum(client, reviewer):
    client.force_login(reviewer)
    day = (timezone.now() + dt.timedelta(days=200)).date().isoformat()
    response = client.post(reverse("tokens:mine"), {"name": "ci", "scope": "write", "expires_on": day})
    assert "at most 90 days" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_the_grc_lead_sees_and_revokes_every_user_s_tokens(client, grc_lead, reviewer, django_assert_max_num_queries):
    for n in range(5):
        token_issue(actor=reviewer, name=f"t{n}", scope="read", expires_at=_in(3))
    client.force_login(grc_lead)
    with django_assert_max_num_queries(12):
        response = client.get(reverse("tokens:inventory"))
    assert response.status_code == 200 and response.content.decode().count("kt_") == 5
    token = ApiToken.objects.filter(user=reviewer).first()
    assert client.post(reverse("tokens:revoke", args=[token.pk])).status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_another_user_s_token_is_hidden_from_a_non_lead(client, reviewer, approver):
    token = token_issue(actor=reviewer, name="t", scope="read", expires_at=_in(3)).token
    client.force_login(approver)
    assert client.post(reverse("tokens:revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
