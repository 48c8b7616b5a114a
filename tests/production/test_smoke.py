"""The production smoke test: keytrail started the way README.md's "Running in production" says
— gunicorn with config.settings.production (secrets from files), two Celery workers on different
queues, beat, PostgreSQL, Redis, and moto's server standing in for S3 (with Object Lock) and the
audited AWS account — then driven over HTTP only: sign in (password and TOTP enrolment), register
a source, collect, poll, build a pack, download and verify it, check /readyz, /metrics and a
static asset's cache header, and stop every process cleanly. No DEBUG, no eager tasks, no test
client."""

from __future__ import annotations

import base64
import concurrent.futures
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import time
import uuid

import boto3
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from django.db import connection
from django_otp.oath import totp

from apps.devtools.simulators.aws import reset_moto
from apps.devtools.simulators.organisation import seed_aws_account
from tests.support.aws import free_closed_port
from tests.support.cloud import ACCOUNT_A, NOW, moto_server_url  # noqa: F401 - fixture
from tests.support.production import Browser, celery_beat, celery_worker, gunicorn, manage, wait_http
from tests.support.xdist import worker_redis_url

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery staple 42"


def _poll(fetch, done, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fetch()
        if done(value):
            return value
        time.sleep(0.5)
    raise AssertionError(f"{what} not done in {timeout} s: {value}")


@pytest.fixture
def production(tmp_path, moto_server_url, catalog):  # noqa: F811
    """The environment README.md documents, secrets in files, pointing at this machine's services."""
    reset_moto(moto_server_url)
    broker = worker_redis_url()
    redis.Redis.from_url(broker).flushdb()
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir()
    signing_key = secrets.token_hex(32)
    files = {
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "KEYTRAIL_PACK_SIGNING_KEY": signing_key,
        "KEYTRAIL_METRICS_TOKEN": secrets.token_urlsafe(24),
    }
    for name, value in files.items():
        (secrets_dir / name.lower()).write_text(value + "\n")
    bucket = f"keytrail-evidence-{uuid.uuid4().hex[:10]}"
    s3 = boto3.client(
        "s3", endpoint_url=moto_server_url, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    db = connection.settings_dict
    port = free_closed_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY_FILE": str(secrets_dir / "django_secret_key"),
        "KEYTRAIL_PACK_SIGNING_KEY_FILE": str(secrets_dir / "keytrail_pack_signing_key"),
        "KEYTRAIL_METRICS_TOKEN_FILE": str(secrets_dir / "keytrail_metrics_token"),
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_BROKER_URL": broker,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_STATIC_ROOT": str(tmp_path / "static"),
        "KEYTRAIL_STORAGE": "s3",
        "KEYTRAIL_S3_BUCKET": bucket,
        "KEYTRAIL_S3_REGION": "us-east-1",
        "KEYTRAIL_S3_ENDPOINT_URL": moto_server_url,
        "KEYTRAIL_OBJECT_LOCK_MODE": "COMPLIANCE",
        "KEYTRAIL_OBJECT_LOCK_DAYS": "1",
        # The workers' own cloud identity (an instance role in production) and the audited cloud.
        "AWS_ENDPOINT_URL": moto_server_url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        # Beat's and the workers' heartbeats every 2 s instead of 30, so /readyz turns ready quickly.
        "KEYTRAIL_HEARTBEAT_SECONDS": "2",
    }
    seed_aws_account(ACCOUNT_A, users=30, secrets_per_region=6, regions=["eu-west-1"], seed=7, now=NOW)
    return {"env": env, "base": f"http://127.0.0.1:{port}", "s3": s3, "bucket": bucket, "signing_key": signing_key, **files}


def _sign_in(browser: Browser, username: str) -> None:
    login = browser.get("/accounts/login/")
    assert login.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)[1]
    signed = browser.post("/accounts/login/", data={"username": username, "password": PASSWORD, "csrfmiddlewaretoken": token, "next": "/"})
    assert signed.status_code == 302, signed.text[:500]
    # A GRC lead must enrol an authenticator app: read the key from the page, answer with a code.
    home = browser.get("/")
    assert home.status_code == 302 and home.headers["Location"].startswith("/accounts/mfa/")
    setup = browser.get(home.headers["Location"])
    key = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup.text)[1]
    code = f"{totp(base64.b32decode(key + '=' * (-len(key) % 8))):06d}"
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', setup.text)[1]
    enrolled = browser.post("/accounts/mfa/", data={"token": code, "csrfmiddlewaretoken": form_token, "next": "/"})
    assert enrolled.status_code == 302, enrolled.text[:1000]
    assert browser.get("/").status_code == 200


def test_production_smoke(production, tmp_path):
    env, base = production["env"], production["base"]
    started = time.monotonic()
    timings: dict[str, float] = {}

    # --- Install: exactly README.md's commands -------------------------------------------------
    # collectstatic needs no database: it runs beside migrate and load_catalog.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        static = pool.submit(manage, env, "collectstatic", "--noinput", "-v0")
        manage(env, "migrate", "--noinput")
        manage(env, "load_catalog")
        static.result()
    (tmp_path / "password").write_text(PASSWORD + "\n")
    manage(env, "create_user", "grace", "--role", "grc_lead", "--password-file", str(tmp_path / "password"))
    timings["install"] = time.monotonic() - started

    logs = tmp_path / "logs"
    logs.mkdir()
    web = gunicorn(env, logs / "gunicorn.log")
    collection = celery_worker(env, logs / "collection.log", "collection,evaluation,default", "collection", concurrency=2)
    packs = celery_worker(env, logs / "packs.log", "packs,notifications", "packs")
    beat = celery_beat(env, logs / "beat.log", tmp_path)
    services = [web, collection, packs, beat]
    try:
        for service in services:
            service.start()
        wait_http(base + "/healthz", service=web)
        collection.wait_for_log("ready.")
        packs.wait_for_log("ready.")
        timings["start"] = time.monotonic() - started

        # --- Ready: database, broker, a worker's heartbeat, beat's heartbeat -------------------
        ready = _poll(lambda: base_get(base, "/readyz"), lambda r: r.status_code == 200, 60, "/readyz")
        assert ready.json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok", "worker": "ok", "beat": "ok"}}

        browser = Browser(base)
        _sign_in(browser, "grace")

        # --- Register a source, collect, poll until done --------------------------------------
        created = browser.post(
            "/api/v1/sources/",
            json={"name": "prod", "kind": "aws_account", "role_arn": f"arn:aws:iam::{ACCOUNT_A}:role/keytrail", "regions": ["eu-west-1"]},
        )
        assert created.status_code == 201, created.text
        run = browser.post(f"/api/v1/sources/{created.json()['id']}/collect/")
        assert run.status_code == 202, run.text
        run_id = run.json()["id"]
        finished = _poll(
            lambda: browser.get(f"/api/v1/runs/{run_id}/").json(), lambda r: r["status"] not in ("pending", "running"), 90, "run"
        )
        assert finished["status"] == "succeeded", finished
        timings["collected"] = time.monotonic() - started
        # The evaluation that follows a collection ran on the evaluation queue.
        _poll(
            lambda: browser.get("/api/v1/evaluations/").json()["results"],
            lambda rows: rows and rows[0]["state"] == "succeeded",
            60,
            "evaluation",
        )

        # --- Build a pack (packs queue, the other worker), download it, verify it -------------
        engagement = browser.post(
            "/api/v1/engagements/", json={"name": "FY26 audit", "period_start": "2026-01-01", "period_end": "2026-12-31"}
        )
        assert engagement.status_code == 201, engagement.text
        queued = browser.post(f"/api/v1/engagements/{engagement.json()['id']}/packs/", json={})
        assert queued.status_code == 202, queued.text
        pack = _poll(
            lambda: browser.get(queued.json()["progress_url"]).json(), lambda p: p["state"] in ("succeeded", "failed"), 120, "pack"
        )
        assert pack["state"] == "succeeded", pack
        timings["pack built"] = time.monotonic() - started
        # Each worker took only its own queues' tasks ("Task NAME[id] received" in its log).
        assert "Task evidence.build_pack[" in packs.text() and "Task evidence.build_pack[" not in collection.text()
        assert "Task inventory.collect_unit[" in collection.text() and "Task inventory.collect_unit[" not in packs.text()

        download = browser.get(f"/api/v1/packs/{pack['id']}/download/")
        assert download.status_code == 200 and hashlib.sha256(download.content).hexdigest() == pack["sha256"]
        zip_path = tmp_path / "pack.zip"
        zip_path.write_bytes(download.content)
        public = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(production["signing_key"])).public_key()
        public_hex = public.public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
        verified = manage(env, "verify_pack", str(zip_path), "--public-key", public_hex)
        assert "OK" in verified.upper(), verified
        assert browser.post(f"/api/v1/packs/{pack['id']}/verify/").json()["ok"] is True

        # --- The pack is in object storage under Object Lock; deleting it is refused ---------
        s3, bucket = production["s3"], production["bucket"]
        key = f"packs/{pack['sha256'][:2]}/{pack['sha256']}.zip"
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"] > dt.datetime.now(dt.UTC)
        with pytest.raises(s3.exceptions.ClientError, match="AccessDenied"):
            s3.delete_object(Bucket=bucket, Key=key, VersionId=head["VersionId"])
        assert s3.get_object(Bucket=bucket, Key=key, VersionId=head["VersionId"])["Body"].read() == download.content

        # --- Metrics (bearer token from a file), a static asset's cache header ----------------
        assert base_get(base, "/metrics").status_code == 403
        metrics = base_get(base, "/metrics", headers={"Authorization": f"Bearer {production['KEYTRAIL_METRICS_TOKEN']}"})
        assert metrics.status_code == 200
        text = metrics.text
        assert 'keytrail_packs_total{outcome="succeeded"} 1.0' in text
        assert re.search(r'keytrail_collection_units_total\{kind="aws_account",outcome="succeeded"\} [1-9]', text)
        assert 'keytrail_queue_depth{queue="collection"}' in text
        assert "keytrail_sources_not_collected_successfully 0.0" in text
        # Request latency from both gunicorn workers, added up (multiprocess mode).
        posted = [line for line in text.splitlines() if line.startswith("keytrail_http_request_duration_seconds_count{")]
        assert any('view="api:source-list"' in line and 'method="POST"' in line and line.endswith(" 1.0") for line in posted), posted
        assert "# TYPE keytrail_evaluation_duration_seconds histogram" in text

        page = browser.get("/")
        stylesheet = re.search(r'href="(/static/css/keytrail\.[0-9a-f]{12}\.css)"', page.text)[1]
        asset = base_get(base, stylesheet, headers={"Accept-Encoding": "gzip"})
        assert asset.status_code == 200 and "text/css" in asset.headers["Content-Type"]
        assert asset.headers["Cache-Control"] == "max-age=315360000, public, immutable"
        assert asset.headers.get("Content-Encoding") == "gzip"
        docs = browser.get("/api/v1/docs/")
        sidecar = re.search(r'"(/static/drf_spectacular_sidecar/[^"]+\.js)"', docs.text)[1]
        assert base_get(base, sidecar).status_code == 200  # the Swagger UI is not blank

        # --- JSON logs: one event per line, request ids on the web side, task ids on workers --
        web_events = [json.loads(line) for line in web.text().splitlines() if line.startswith("{")]
        assert any(e["logger"] == "gunicorn.access" and "request_id=" in e["message"] for e in web_events)
        worker_events = [json.loads(line) for line in collection.text().splitlines() if line.startswith("{")]
        assert worker_events and any(e.get("task_id") for e in worker_events)
    finally:
        stopped = {service.name: service.stop() for service in reversed(services)}
        timings["total"] = time.monotonic() - started
        print(f"production smoke: {', '.join(f'{k} {v:.1f} s' for k, v in timings.items())}; exits {stopped}")
    assert stopped == {"beat": 0, "worker packs": 0, "worker collection": 0, "gunicorn": 0}, stopped


def base_get(base: str, path: str, **kw):
    import requests

    return requests.get(base + path, headers={"X-Forwarded-Proto": "https", **kw.pop("headers", {})}, timeout=30, **kw)
