"""keytrail's own accounts: TOTP second factor, login throttling, headers, deploy checks."""

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.roles import Role
from apps.audit.models import AuditEvent
from tests.factories import make_user

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "correct-horse-battery-staple"
START = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def sign_in(client, username: str, password: str = PASSWORD):
    return client.post(reverse("login"), {"username": username, "password": password})


@pytest.fixture
def lead(db):
    user = make_user(Role.GRC_LEAD, username="lena")
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def mfa_for_leads(settings):
    settings.KEYTRAIL_MFA_REQUIRED_ROLES = ["grc_lead", "approver"]


@pytest.mark.django_db
def test_lead_must_enrol_then_verify_at_every_sign_in(client, lead, mfa_for_leads):
    with time_machine.travel(START, tick=False) as traveller:
        assert sign_in(client, "lena").status_code == 302
        response = client.get(reverse("controls:list"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("mfa_setup"))

        page = client.get(reverse("mfa_setup"))
        assert page.status_code == 200 and b"<svg" in page.content  # inline QR code, no image request
        device = TOTPDevice.objects.get(user=lead, confirmed=False)
        assert device.config_url.startswith("otpauth://totp/keytrail")

        wrong = client.post(reverse("mfa_setup"), {"token": "000000" if code(device) != "000000" else "111111"})
        assert wrong.status_code == 200 and b"does not match" in wrong.content
        traveller.shift(dt.timedelta(seconds=40))  # django-otp throttles a device after a wrong code
        done = client.post(reverse("mfa_setup"), {"token": code(device), "next": reverse("controls:list")})
        assert done.status_code == 302 and done["Location"] == reverse("controls:list")
        assert client.get(reverse("controls:list")).status_code == 200
        assert AuditEvent.objects.filter(event_type="user.mfa_enrolled", actor=lead).count() == 1

    client.post(reverse("logout"))
    with time_machine.travel(START + dt.timedelta(minutes=5), tick=False):
        sign_in(client, "lena")
        response = client.get(reverse("controls:list"))
        assert response["Location"].startswith(reverse("mfa_verify"))
        device.refresh_from_db()
        bad = client.post(reverse("mfa_verify"), {"token": "12345x"})
        assert bad.status_code == 200 and b"six digits" in bad.content
        wrong = client.post(reverse("mfa_verify"), {"token": "000000" if code(device) != "000000" else "111111"})
        assert wrong.status_code == 200 and AuditEvent.objects.filter(event_type="user.mfa_failed", actor=lead).exists()
    with time_machine.travel(START + dt.timedelta(minutes=6), tick=False):  # past django-otp's throttle delay
        ok = client.post(reverse("mfa_verify"), {"token": code(device), "next": "https://evil.example/"})
        assert ok.status_code == 302 and ok["Location"] == "/"  # no open redirect
        assert client.get(reverse("controls:list")).status_code == 200
        # The same code cannot be replayed in another session.
        other = type(client)()
        sign_in(other, "lena")
        assert other.post(reverse("mfa_verify"), {"token": code(device)}).status_code == 200
        assert other.get(reverse("controls:list")).status_code == 302


@pytest.mark.django_db
def test_unverified_session_gets_json_403_on_the_api(client, lead, mfa_for_leads):
    sign_in(client, "lena")
    response = client.get("/api/v1/")
    assert response.status_code == 403 and response.json()["detail"].startswith("Two-factor")


@pytest.mark.django_db
def test_roles_outside_the_requirement_sign_in_with_a_password(client, mfa_for_leads):
    user = make_user(Role.REVIEWER, username="rhea")
    user.set_password(PASSWORD)
    user.save()
    sign_in(client, "rhea")
    assert client.get(reverse("controls:list")).status_code == 200


@pytest.mark.django_db
def test_mfa_reset_command_is_audited(lead, capsys):
    from django.core.management import call_command

    admin = make_user(None, username="root-admin", is_superuser=True)
    TOTPDevice.objects.create(user=lead, name="phone", confirmed=True)
    call_command("mfa_reset", "lena", "--by", "root-admin")
    assert not TOTPDevice.objects.filter(user=lead).exists()
    assert AuditEvent.objects.filter(event_type="user.mfa_reset", actor=admin).count() == 1


@pytest.mark.django_db
def test_login_throttling_locks_username_from_address_and_audits_it(client, lead, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        assert sign_in(client, "lena", "wrong-password").status_code in (200, 429)
    locked = sign_in(client, "lena")  # even the right password is refused while locked
    assert locked.status_code == 429
    assert b"Too many failed sign-ins" in locked.content
    assert AuditEvent.objects.filter(event_type="user.locked_out").exists()
    assert AuditEvent.objects.filter(event_type="user.login_failed").count() >= 3
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_security_headers_on_every_page(client, lead):
    client.force_login(lead)
    response = client.get(reverse("controls:list"))
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert response["Cache-Control"] == "no-store"
    cookie_page = client.get(reverse("login"))
    assert cookie_page.status_code == 302  # signed in already


def test_password_validators_refuse_weak_passwords():
    for weak in ["password123", "short", "123456789012345"]:
        with pytest.raises(ValidationError):
            validate_password(weak)
    validate_password("violet-ledger-quarter-9")


def test_deploy_checks_pass_under_production_settings(tmp_path):
    """`manage.py check --deploy` is clean with production settings; the secrets come from files."""
    key_file, signing_file = tmp_path / "secret_key", tmp_path / "pack_signing_key"
    key_file.write_text(os.urandom(48).hex())
    signing_file.write_text(os.urandom(32).hex())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KEYTRAIL_"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.production",
            "DJANGO_SECRET_KEY_FILE": str(key_file),
            "KEYTRAIL_PACK_SIGNING_KEY_FILE": str(signing_file),
            "DJANGO_ALLOWED_HOSTS": "keytrail.example.org",
            "DATABASE_URL": os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/keytrail"),
        }
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KEYTRAIL_"))}
    env["DJANGO_SETTINGS_MODULE"] = "config.settings.production"
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0 and "DJANGO_SECRET_KEY" in result.stderr
