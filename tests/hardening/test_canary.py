"""The secret canary: a full demo run (seed the simulated cloud, collect every source, evaluate,
record the demo's controls, evidence, exceptions and access reviews, build an evidence pack) must leave the canary, which every
simulated secret value holds, nowhere: not in the database file, not in any log line at
DEBUG (keytrail, Django, Celery, botocore, urllib3, azure, moto), not in the command's
output, not in any file under MEDIA_ROOT or var/.

The demo runs in a subprocess (its own SQLite file, media directory and free ports), exactly
as ``python manage.py demo --no-serve`` does, with a DEBUG file handler on every logger.
"""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from apps.devtools.simulators.organisation import SECRET_CANARY
from tests.support.canary import assert_no_canary, find_canary
from tests.support.ledger import CANARY

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import logging, os, sys
    import django
    django.setup()
    handler = logging.FileHandler(os.environ["CANARY_LOG"], encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    names = ["", "apps", "django", "django.db.backends", "celery", "kombu", "botocore", "boto3", "urllib3",
             "azure", "moto", "werkzeug", "py.warnings"]
    for name in names:
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        if name == "" or not logger.propagate:
            logger.addHandler(handler)
    logging.captureWarnings(True)
    from django.core.management import call_command
    call_command("demo", no_serve=True)
    # Positive control: the simulated secrets really hold the canary (counted, never printed).
    from apps.devtools.simulators.aws import secretsmanager_backend
    from apps.devtools.simulators.organisation import SECRET_CANARY
    held = sum(s.secret_string == SECRET_CANARY for s in secretsmanager_backend("123456789012", "eu-west-1").secrets.values())
    print(f"simulated secrets holding the canary: {held}")
""")


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.mark.faults
def test_a_full_demo_run_leaves_the_canary_nowhere(tmp_path):
    aws_port, *ports = _free_ports(9)
    vault_ports, arm_ports = ports[:3], ports[3:]
    var = tmp_path / "var"
    media = var / "media"
    log = tmp_path / "debug.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AZURE_", "DATABASE_URL", "CELERY_"))},
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": f"sqlite:///{var / 'keytrail.sqlite3'}",
        "DJANGO_MEDIA_ROOT": str(media),
        "DJANGO_LOG_LEVEL": "DEBUG",
        "KEYTRAIL_DEMO_AWS_PORT": str(aws_port),
        "KEYTRAIL_DEMO_VAULT_PORTS": ",".join(map(str, vault_ports)),
        "KEYTRAIL_DEMO_ARM_PORTS": ",".join(map(str, arm_ports)),
        "CANARY_LOG": str(log),
    }
    var.mkdir()
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-4000:]
    assert b"simulated secrets holding the canary: 30" in done.stdout  # the canary was there to leak
    assert b"collection run" in done.stdout.lower() or b"run #" in done.stdout.lower()
    lines = log.read_text(encoding="utf-8", errors="replace").count("\n")
    assert lines > 1000, f"only {lines} log lines were captured"  # DEBUG really was on
    assert any(media.rglob("*")), "the demo wrote no media files to search"
    # The demo ends by building an evidence pack: its zip (PDF, XLSX, JSON, OSCAL inside) is searched too.
    assert list(media.glob("packs/*/*.zip")), "the demo built no evidence pack to search"

    paths = [var, log, *([ROOT / "var"] if (ROOT / "var").exists() else [])]
    searched = assert_no_canary(paths, extra_bytes={"stdout": done.stdout, "stderr": done.stderr})
    assert searched >= 4
    db_bytes = sum(p.stat().st_size for p in var.glob("keytrail.sqlite3*"))
    CANARY.append(
        f"0 occurrences in {searched} files/outputs ({lines:,} DEBUG log lines, database {db_bytes:,} bytes, "
        f"{sum(1 for p in media.rglob('*') if p.is_file())} media files)"
    )


def test_the_search_finds_the_canary_where_it_hides(tmp_path):
    """Positive controls for assert_no_canary: plain, UTF-16, base64, in a ZIP member, in a
    compressed PDF stream."""
    import base64
    import zlib

    (tmp_path / "plain.log").write_text(f"x {SECRET_CANARY} y")
    (tmp_path / "wide.txt").write_bytes(f"..{SECRET_CANARY}..".encode("utf-16-le"))
    (tmp_path / "b64.json").write_bytes(b'{"v": "' + base64.b64encode(b"ab" + SECRET_CANARY.encode() + b"c") + b'"}')
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/sharedStrings.xml", f"<t>{SECRET_CANARY}</t>")
    (tmp_path / "pack.xlsx").write_bytes(buffer.getvalue())
    (tmp_path / "report.pdf").write_bytes(
        b"%PDF-1.7\n1 0 obj\n<</Filter/FlateDecode>>\nstream\n" + zlib.compress(f"BT ({SECRET_CANARY}) Tj ET".encode()) + b"\nendstream\n"
    )
    (tmp_path / "clean.txt").write_text("nothing here")
    hits, searched = find_canary([tmp_path])
    where = {Path(h.split(":")[0].split("!")[0].split("#")[0]).name for h in hits}
    assert where == {"plain.log", "wide.txt", "b64.json", "pack.xlsx", "report.pdf"} and searched == 6
    with pytest.raises(AssertionError, match="a secret value leaked"):
        assert_no_canary([tmp_path])
