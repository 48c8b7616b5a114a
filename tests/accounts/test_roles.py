import re
from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from apps.accounts.roles import OBJECT_PERMISSIONS, ROLE_PERMISSIONS, Role
from apps.accounts.services import roles_sync, user_create
from apps.audit.models import AuditEvent

DOC = Path(__file__).resolve().parents[2] / "docs" / "permissions.md"


@pytest.mark.django_db
def test_roles_sync_is_idempotent_and_exact():
    assert roles_sync() and roles_sync()
    for role, perms in ROLE_PERMISSIONS.items():
        group = Group.objects.get(name=role)
        held = {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")}
        assert held == set(perms)


@pytest.mark.django_db
def test_user_create_assigns_one_role_and_is_audited():
    user = user_create(username="new", password="a-long-password-1", role=Role.REVIEWER)
    assert list(user.groups.values_list("name", flat=True)) == ["reviewer"]
    assert AuditEvent.objects.filter(event_type="user.role_assigned", target_id=str(user.pk)).exists()
    with pytest.raises(ValueError, match="unknown role"):
        user_create(username="bad", password="a-long-password-1", role="superuser")


def test_permission_vocabulary_doc_is_in_step_with_the_code():
    """docs/permissions.md lists every permission a role holds and every object permission."""
    text = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"`([a-z_]+\.[a-z_]+)`", text))
    in_code = {p for perms in ROLE_PERMISSIONS.values() for p in perms}
    in_code |= {f"{model.split('.')[0]}.{codename}" for model, codes in OBJECT_PERMISSIONS.items() for codename in codes}
    assert in_code <= documented, f"undocumented permissions: {sorted(in_code - documented)}"


@pytest.mark.django_db
def test_login_success_and_failure_are_recorded(client, grc_lead):
    client.post("/accounts/login/", {"username": "grc", "password": "wrong"})
    assert AuditEvent.objects.filter(event_type="user.login_failed", actor_label="anonymous:grc").exists()
    client.post("/accounts/login/", {"username": "grc", "password": "pw-for-tests-only"})
    assert AuditEvent.objects.filter(event_type="user.logged_in", actor=grc_lead).exists()
