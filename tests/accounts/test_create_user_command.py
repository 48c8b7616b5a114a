import pytest
from django.core.management import CommandError, call_command

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent


def test_creates_a_user_with_a_role_from_a_password_file(db, tmp_path):
    secret = tmp_path / "password"
    secret.write_text("a long enough passphrase 7\n")
    call_command("create_user", "grace", "--role", Role.GRC_LEAD, "--password-file", str(secret))
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username="grace")
    assert user.check_password("a long enough passphrase 7") and user.groups.filter(name=Role.GRC_LEAD).exists()
    assert AuditEvent.objects.filter(event_type="user.role_assigned").exists()


def test_refuses_a_weak_password_a_missing_file_and_a_taken_name(db, tmp_path):
    weak = tmp_path / "weak"
    weak.write_text("password\n")
    with pytest.raises(CommandError, match="too short|too common"):
        call_command("create_user", "alan", "--role", Role.AUDITOR, "--password-file", str(weak))
    with pytest.raises(CommandError, match="cannot read a password"):
        call_command("create_user", "alan", "--role", Role.AUDITOR, "--password-file", str(tmp_path / "absent"))
    good = tmp_path / "good"
    good.write_text("another long passphrase 9\n")
    call_command("create_user", "alan", "--role", Role.AUDITOR, "--password-file", str(good))
    with pytest.raises(CommandError, match="already exists"):
        call_command("create_user", "alan", "--role", Role.AUDITOR, "--password-file", str(good))
