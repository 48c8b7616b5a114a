"""Issue #19 item 6: role and staff changes made in the Django admin are audited
(``admin.changed``), through the real admin pages."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from apps.accounts.models import User
from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    admin = User.objects.create_superuser("root-admin", "root@example.test", "a-long-admin-password-1")
    client.force_login(admin)
    return client, admin


def _user_form(user, **overrides):
    data = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": "on",
        "groups": list(user.groups.values_list("pk", flat=True)),
        "user_permissions": [],
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_making_a_user_staff_and_giving_a_role_in_the_admin_is_audited(admin_client):
    client, admin = admin_client
    reviewer = make_user(Role.REVIEWER, username="rev-1")
    grc_group = Group.objects.get(name=Role.GRC_LEAD)
    response = client.post(
        reverse("admin:accounts_user_change", args=[reviewer.pk]),
        _user_form(reviewer, is_staff="on", groups=[grc_group.pk]),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    event = AuditEvent.objects.get(event_type="admin.changed", target_id=str(reviewer.pk))
    assert event.actor == admin and event.changes["action"] == "changed"
    assert event.changes["is_staff"] == [False, True]
    assert event.changes["groups"] == [[Role.REVIEWER], [Role.GRC_LEAD]]
    assert "password_changed" not in event.changes


def test_a_permission_added_to_a_role_group_and_a_user_deleted_are_audited(admin_client):
    client, admin = admin_client
    group = Group.objects.get(name=Role.AUDITOR)
    extra = Permission.objects.get(content_type__app_label="audit", codename="view_auditevent")
    perms = list(group.permissions.values_list("pk", flat=True)) + [extra.pk]
    response = client.post(reverse("admin:auth_group_change", args=[group.pk]), {"name": group.name, "permissions": perms})
    assert response.status_code == 302
    event = AuditEvent.objects.get(event_type="admin.changed", target_type="auth.group")
    before, after = event.changes["permissions"]
    assert "audit.view_auditevent" in after and "audit.view_auditevent" not in before

    gone = make_user(Role.AUDITOR, username="aud-gone")
    client.post(reverse("admin:accounts_user_delete", args=[gone.pk]), {"post": "yes"})
    deleted = AuditEvent.objects.get(event_type="admin.changed", changes__action="deleted")
    assert deleted.changes["user"][0]["groups"] == [Role.AUDITOR] and "password_changed" not in deleted.changes["user"][0]
