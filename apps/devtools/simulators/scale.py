"""A simulated organisation of a given size, served from processes of its own.

The benchmark (``manage.py bench_scale``) and the pipeline-at-size test collect from it.
Each simulator runs in a child process so that serving thousands of requests does not
compete with the collector for one interpreter's GIL:

* ``aws``: moto's server with N accounts, each seeded through moto's backend *inside that
  process* (:func:`apps.devtools.simulators.organisation.seed_aws_account`: IAM users with keys of
  realistic ages and use, console users with and without MFA, a password policy, Secrets
  Manager secrets in two regions) — seconds, not minutes;
* ``vaults``: K Key Vaults on the local HTTPS simulator, seeded with
  :func:`apps.devtools.simulators.organisation.seed_vault`.

A child seeds, starts serving, prints one JSON "ready" line on stdout and serves until its
stdin closes (the parent exited or called :meth:`SimulatedOrganisation.stop`). Everything is
reproducible for a seed: dates are relative to today's midnight, so a repeat collection the
same day sees an unchanged organisation.

Problem mix (the demo's): every account has the user/secret/vault mix of the seeding
functions (old, unused and never-used keys, console users without MFA, secrets without
rotation or expiry, missing owners, a hostile tag value); odd-numbered accounts are
"sandbox" accounts like the demo's (weak password policy, root without MFA, a root access key).

    python -m apps.devtools.simulators.scale aws '{"accounts": 1, "users": 500, ...}'   # a child; see OrgSpec
"""

from __future__ import annotations

import dataclasses
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REGIONS = ("eu-west-1", "us-east-1")
ROLE_NAME = "keytrail-audit"
_ROOT = Path(__file__).resolve().parents[3]
_READY_TIMEOUT = 300.0


@dataclass(frozen=True)
class OrgSpec:
    """Size and seed of a simulated organisation. Totals are split evenly over accounts,
    regions and vaults. ``keys_per_user`` None is the seeding function's realistic mix
    (about one key per user); 2 gives the issue's 5,000 users / 10,000 keys."""

    accounts: int = 1
    users: int = 5000
    keys_per_user: int | None = 2
    secrets: int = 2000
    regions: tuple[str, ...] = REGIONS
    vaults: int = 3
    vault_secrets: int = 2000
    seed: int = 42
    # Added to every answer, as a remote cloud's round trip would be (0: answer at once).
    latency_ms: float = 0.0
    # moto processes serving the same accounts (one Python process uses at most one core).
    aws_processes: int = 1

    def account_ids(self) -> list[str]:
        return [f"{310000000000 + i * 1111:012d}" for i in range(self.accounts)]

    def vault_names(self) -> list[str]:
        return [f"kv-scale-{i}" for i in range(self.vaults)]


def split(total: int, parts: int) -> list[int]:
    """``total`` spread over ``parts`` as evenly as possible (the first ones get the remainder)."""
    if parts <= 0:
        return []
    base, extra = divmod(total, parts)
    return [base + (i < extra) for i in range(parts)]


def _today() -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


# ----------------------------------------------------------------------------- children


class _Delayed:
    """A WSGI app that answers ``seconds`` later than ``app`` would (a remote cloud's round trip)."""

    def __init__(self, app: Any, seconds: float):
        self.app, self.seconds = app, seconds

    def __call__(self, environ: Any, start_response: Any) -> Any:
        time.sleep(self.seconds)
        return self.app(environ, start_response)


def _serve_aws(spec: OrgSpec) -> dict[str, Any]:
    from apps.devtools.simulators.organisation import seed_aws_account

    now = _today()
    accounts = []
    for i, (account_id, users) in enumerate(zip(spec.account_ids(), split(spec.users, spec.accounts), strict=True)):
        sandbox = i % 2 == 1
        # Secrets are split evenly over accounts x regions (a remainder of fewer than that is dropped).
        per_region = spec.secrets // max(1, spec.accounts * len(spec.regions))
        seeded = seed_aws_account(
            account_id,
            users=users,
            secrets_per_region=per_region,
            regions=list(spec.regions),
            seed=spec.seed + i,
            now=now,
            keys_per_user=spec.keys_per_user,
            weak_password_policy=sandbox,
            root_mfa=not sandbox,
            root_access_key=sandbox,
        )
        accounts.append(dataclasses.asdict(seeded) | {"sandbox": sandbox})
    if spec.aws_processes > 1:
        return {"accounts": accounts, **_serve_moto_forked(spec)}
    from apps.devtools.simulators.aws import start_moto_server

    server, url = start_moto_server()
    if spec.latency_ms:
        server._server.app = _Delayed(server._server.app, spec.latency_ms / 1000)  # moto keeps its WSGI app there
    return {"aws_url": url, "accounts": accounts, "_server": server}


def _account_of_temporary_key(access_key: str) -> str | None:
    """The account a moto-made temporary key (``ASIA…``) belongs to: moto writes it into the id, as
    AWS does (:func:`moto.iam.utils.generate_access_key_id_from_account_id`, read backwards)."""
    import base64

    from moto.iam.utils import ACCOUNT_OFFSET, AWS_ROLE_ALPHABET

    if not access_key.startswith("ASIA") or len(access_key) != 20:
        return None
    try:
        half = int.from_bytes(base64.b32decode(access_key[4:12]), "big") - ACCOUNT_OFFSET
        odd = AWS_ROLE_ALPHABET.index(access_key[12]) >= 16
    except ValueError:
        return None
    return f"{2 * half + odd:012d}"


def _serve_moto_forked(spec: OrgSpec) -> dict[str, Any]:
    """Serve the seeded moto state from ``spec.aws_processes`` processes accepting on one socket.

    Forked after seeding, every process holds the same accounts. Two things moto keeps per
    process are made independent of which process answers: the credential report is ready
    at once (GenerateCredentialReport answers COMPLETE; one process cannot tell another it
    started one), and a temporary key from AssumeRole in one process is mapped to its account
    in every other by the account moto encodes in the key id.
    """
    import socket
    import threading

    import moto.iam.models
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    from apps.devtools.simulators.aws import iam_backend
    from apps.devtools.simulators.iam_extras import install

    install()  # ListServiceSpecificCredentials and real server-certificate dates, as start_moto_server does
    for account_id in spec.account_ids():
        iam_backend(account_id).credential_report = True
    looked_up = moto.iam.models.get_account_id_from

    def account_of(access_key: str) -> str:
        found = looked_up(access_key)
        decoded = _account_of_temporary_key(access_key) if found == moto.iam.models.DEFAULT_ACCOUNT_ID else None
        return decoded if decoded in moto.iam.models.iam_backends else found

    moto.iam.models.get_account_id_from = account_of  # moto.core.responses imports it at each request
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(256)
    app = DomainDispatcherApplication(create_backend_app)
    if spec.latency_ms:
        app = _Delayed(app, spec.latency_ms / 1000)
    parent, children = os.getpid(), []
    for _ in range(spec.aws_processes - 1):
        pid = os.fork()
        if pid == 0:  # a child: serve until the parent is gone
            server = make_server("127.0.0.1", 0, app, threaded=True, fd=listener.fileno())
            threading.Thread(target=server.serve_forever, daemon=True).start()
            while os.getppid() == parent:
                time.sleep(0.5)
            os._exit(0)
        children.append(pid)
    server = make_server("127.0.0.1", 0, app, threaded=True, fd=listener.fileno())
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return {"aws_url": f"http://127.0.0.1:{listener.getsockname()[1]}", "_server": server, "_children": children}


def _serve_vaults(spec: OrgSpec) -> dict[str, Any]:
    from apps.devtools.simulators.key_vault import KeyVaultSimulator
    from apps.devtools.simulators.organisation import seed_vault

    now = _today()
    vaults, servers = {}, []
    for i, (name, count) in enumerate(zip(spec.vault_names(), split(spec.vault_secrets, spec.vaults), strict=True)):
        vault = KeyVaultSimulator(name).start()
        if spec.latency_ms:
            vault.slow(spec.latency_ms / 1000, times=None)  # every authenticated request
        seed_vault(vault, count, seed=spec.seed + 1000 + i, now=now)
        servers.append(vault)
        vaults[name] = {"url": vault.url, "secrets": count}
    return {"vaults": vaults, "ca_path": servers[0].ca_path if servers else "", "_servers": servers}


def _child_main(kind: str, spec_json: str) -> int:
    values = json.loads(spec_json)
    spec = OrgSpec(**{**values, "regions": tuple(values.get("regions", REGIONS))})
    started = time.monotonic()
    ready = _serve_aws(spec) if kind == "aws" else _serve_vaults(spec)
    public = {k: v for k, v in ready.items() if not k.startswith("_")}
    public["seed_seconds"] = round(time.monotonic() - started, 2)
    public["pid"] = os.getpid()
    public["pids"] = [os.getpid(), *ready.get("_children", [])]
    print("READY " + json.dumps(public), flush=True)
    # Serve (daemon threads) until the parent closes our stdin.
    sys.stdin.read()
    for child in ready.get("_children", []):
        os.kill(child, signal.SIGTERM)
    return 0


# ------------------------------------------------------------------------------ parent


@dataclass
class SimulatedOrganisation:
    """Starts the simulators' child processes and points keytrail's AWS and Azure settings at them.

    ``with SimulatedOrganisation(OrgSpec(users=300)) as org: ...``; ``org.accounts`` (id, users,
    keys, secrets, sandbox), ``org.vaults`` (name -> url, secrets), ``org.aws_url``, ``org.ca_path``.
    """

    spec: OrgSpec
    aws_url: str = ""
    accounts: list[dict[str, Any]] = field(default_factory=list)
    vaults: dict[str, dict[str, Any]] = field(default_factory=dict)
    ca_path: str = ""
    seed_seconds: dict[str, float] = field(default_factory=dict)
    _children: dict[str, subprocess.Popen] = field(default_factory=dict)
    _forked: list[int] = field(default_factory=list)  # moto's forked processes (spec.aws_processes > 1)

    def start(self) -> SimulatedOrganisation:
        payload = json.dumps(dataclasses.asdict(self.spec))
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            for kind in ("aws", "vaults"):  # both seed at once; the parent then waits for each
                self._children[kind] = subprocess.Popen(
                    [sys.executable, "-m", "apps.devtools.simulators.scale", kind, payload],
                    cwd=_ROOT,
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=None,
                    text=True,
                )
            aws = self._wait_ready("aws")
            vaults = self._wait_ready("vaults")
        except BaseException:
            self.stop()
            raise
        self.aws_url, self.accounts = aws["aws_url"], aws["accounts"]
        self.vaults, self.ca_path = vaults["vaults"], vaults["ca_path"]
        self.seed_seconds = {"aws": aws["seed_seconds"], "vaults": vaults["seed_seconds"]}
        self._forked = aws["pids"][1:]
        return self

    def _wait_ready(self, kind: str) -> dict[str, Any]:
        child = self._children[kind]
        deadline = time.monotonic() + _READY_TIMEOUT
        while time.monotonic() < deadline:
            if child.poll() is not None:
                raise RuntimeError(f"the simulated {kind} process exited with {child.returncode} before it was ready")
            readable, _, _ = select.select([child.stdout], [], [], 0.5)
            if readable:
                line = child.stdout.readline()
                if line.startswith("READY "):
                    return json.loads(line[len("READY ") :])
        raise RuntimeError(f"the simulated {kind} process was not ready within {_READY_TIMEOUT:.0f} s")

    def pids(self) -> dict[str, int]:
        """Every simulator process: ``aws``, ``vaults``, and ``aws 2``, ``aws 3``… when moto is forked."""
        pids = {kind: child.pid for kind, child in self._children.items()}
        return pids | {f"aws {i}": pid for i, pid in enumerate(self._forked, 2)}

    def env(self) -> dict[str, str]:
        """Environment variables that point another process (a worker) at the simulators."""
        return {
            "AWS_ACCESS_KEY_ID": os.environ.get("AWS_ACCESS_KEY_ID", "scale"),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("AWS_SECRET_ACCESS_KEY", "scale"),
            "AWS_DEFAULT_REGION": os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_ENDPOINT_URL": self.aws_url,
            "AZURE_CONNECTION_VERIFY": self.ca_path,
            "AZURE_CREDENTIAL_CLASS": "apps.devtools.simulators.key_vault.SimulatorCredential",
            "AZURE_VERIFY_CHALLENGE_RESOURCE": "false",
        }  # the simulator is not *.vault.azure.net

    def configure(self) -> None:
        """Point boto3 and keytrail's settings in this process at the simulators (as the demo does)."""
        from django.conf import settings

        os.environ.update(self.env())
        os.environ.pop("AWS_PROFILE", None)
        settings.AWS_ENDPOINT_URL = self.aws_url
        settings.AZURE_CONNECTION_VERIFY = self.ca_path
        settings.AZURE_CREDENTIAL_CLASS = "apps.devtools.simulators.key_vault.SimulatorCredential"
        settings.AZURE_VERIFY_CHALLENGE_RESOURCE = False

    def source_fields(self) -> list[dict[str, Any]]:
        """Keyword arguments for ``source_create``, one per account and vault."""
        from apps.inventory.models import Source

        fields = [
            dict(
                name=f"scale account {a['account_id']}",
                kind=Source.Kind.AWS_ACCOUNT,
                role_arn=f"arn:aws:iam::{a['account_id']}:role/{ROLE_NAME}",
                regions=list(self.spec.regions),
            )
            for a in self.accounts
        ]
        fields += [
            dict(name=f"scale vault {name}", kind=Source.Kind.AZURE_KEY_VAULT, vault_url=v["url"]) for name, v in self.vaults.items()
        ]
        return fields

    def stop(self) -> None:
        for child in self._children.values():
            if child.poll() is None:
                try:
                    child.stdin.close()
                    child.wait(timeout=10)
                except (OSError, subprocess.TimeoutExpired):
                    child.terminate()
                    child.wait(timeout=10)
            if child.stdout:
                child.stdout.close()
        self._children.clear()

    def __enter__(self) -> SimulatedOrganisation:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1], sys.argv[2]))
