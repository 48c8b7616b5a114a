"""What the AWS connector tests share besides their fixtures (tests/connectors/aws/conftest.py):
moto's accounts and roles, targets, a closed port, moto's control API, and a fault-injecting
proxy with these tests' vocabulary."""

from __future__ import annotations

import socket
import urllib.request

from apps.connectors.base import Target
from apps.devtools.simulators import faults

ACCOUNT_A = "123456789012"  # moto's account for the "testing" base credentials
ACCOUNT_B = "222222222222"
ROLE_A = f"arn:aws:iam::{ACCOUNT_A}:role/keytrail-reader"
ROLE_B = f"arn:aws:iam::{ACCOUNT_B}:role/keytrail-reader"


def sm_target(region: str, account: str = ACCOUNT_A) -> Target:
    role = ROLE_A if account == ACCOUNT_A else ROLE_B
    return Target(kind="aws_secrets_manager", source_key=account, role_arn=role, region=region)


def free_closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post_moto_api(url: str, path: str, body: str) -> None:
    request = urllib.request.Request(f"{url}{path}", data=body.encode(), method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local moto
        response.read()


class FaultProxy(faults.FaultProxy):
    """apps.devtools.simulators.faults.FaultProxy with these tests' vocabulary.

    ``fail(operation, kind, times=None, after=0)`` lets ``after`` requests for
    ``operation`` through, then makes the next ``times`` (all when ``None``) answer with
    ``kind``: ``throttle`` (400 Throttling), ``error500`` (500 InternalFailure),
    ``nosuchentity`` (404) or ``garbage`` (200 with an unparseable body).
    ``seen`` counts every request by operation, including the failed ones.
    """

    KINDS = {
        "throttle": ("throttle", {}),
        "error500": ("error", {}),
        "nosuchentity": ("error", {"status": 404, "code": "NoSuchEntity", "message": "The user with name x cannot be found."}),
        "garbage": ("malformed", {}),
    }

    def fail(self, operation: str, kind: str, times: int | None = None, after: int = 0) -> None:
        name, params = self.KINDS[kind]
        self.inject(name, match=operation, times=times, after=after, **params)
