"""Production refuses a missing or short pack-signing key (issue #19, item 8): ``check --deploy``
fails with keytrail.E001/E002, and signing never falls back to SECRET_KEY there."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.evidence import signing
from apps.evidence.checks import pack_signing_key_configured, pack_signing_key_well_formed

ROOT = Path(__file__).resolve().parents[2]


def _check_deploy(key: str) -> subprocess.CompletedProcess:
    """``manage.py check --deploy`` under the production settings, in a fresh interpreter."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "KEYTRAIL_"))}
    env = {
        **clean,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": os.urandom(32).hex(),
        "DJANGO_ALLOWED_HOSTS": "keytrail.example",
        "KEYTRAIL_PACK_SIGNING_KEY": key,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(("key", "code"), [("", "keytrail.E001"), ("ab", "keytrail.E002"), ("zz" * 32, "keytrail.E002")])
def test_check_deploy_fails_on_a_missing_or_short_key(key, code):
    result = _check_deploy(key)
    assert result.returncode != 0 and code in result.stderr, result.stderr[-2000:]


# A proper key passes: tests/accounts/test_security.py::test_deploy_checks_pass_under_production_settings.


def test_the_checks_in_process(settings):
    settings.KEYTRAIL_PACK_SIGNING_KEY = ""
    assert [e.id for e in pack_signing_key_configured(None)] == ["keytrail.E001"]
    assert pack_signing_key_well_formed(None) == []
    settings.KEYTRAIL_PACK_SIGNING_KEY = "0"
    assert [e.id for e in pack_signing_key_well_formed(None)] == ["keytrail.E002"]


def test_production_never_signs_with_a_key_derived_from_secret_key(settings):
    settings.KEYTRAIL_PACK_SIGNING_KEY = ""
    settings.KEYTRAIL_PACK_SIGNING_KEY_REQUIRED = True
    with pytest.raises(ImproperlyConfigured):
        signing.sign(b"manifest")
