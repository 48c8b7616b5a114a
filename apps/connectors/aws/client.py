"""boto3 sessions and clients for one collection target, and AWS error translation.

Everything here is built inside functions: no client exists at import time, and Django
settings are read when a session is built, so tests (and the demo) can point the
connectors at moto's server by changing ``AWS_ENDPOINT_URL``.

Every client made by :func:`make_client`

* counts each HTTP attempt by operation name into the caller's ``Counter``
  (a retried call counts once per attempt: the figure is what AWS actually saw);
* may call only the metadata reads listed in :mod:`apps.connectors.aws.allowlist`; any
  other operation (``GetSecretValue``, ``GetParameter``, KMS ``Decrypt``, anything new) is
  refused before a request is built. The guard is registered on the botocore session
  (:func:`new_session`), so every client made from a keytrail session carries it, not only
  the ones :func:`make_client` builds. This is the only module in ``apps/`` (development
  tooling aside) that may create a boto3 session or client; a test checks that.
"""

from __future__ import annotations

import contextlib
import functools
import re
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore import exceptions as bce
from botocore.config import Config
from botocore.parsers import ResponseParserError

from apps.connectors.aws.allowlist import GUARD_ID, check, refuse_unlisted
from apps.connectors.base import ConnectorError, Target

# botocore's own list (retries/standard.py), copied so a botocore refactor cannot
# silently turn throttling into a generic error. IAM's "LimitExceeded" is a quota
# error, not throttling, and is deliberately absent.
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)
ACCESS_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
    }
)

_ROLE_ARN = re.compile(r"^arn:(?P<partition>aws[a-z-]*):iam::(?P<account>\d{12}):role/.+$")
_DEFAULT_REGION = "us-east-1"


@dataclass
class AwsSession:
    """A boto3 session for one target plus what every client made from it shares."""

    session: boto3.Session
    api_calls: Counter
    account_id: str
    partition: str
    region: str
    lock: threading.Lock

    def client(self, service: str, *, region: str | None = None) -> Any:
        return make_client(self.session, service, region=region or self.region, api_calls=self.api_calls, lock=self.lock)


def client_config() -> Config:
    """botocore ``Config`` from settings: retry mode, total attempts, connect/read timeouts."""
    from django.conf import settings

    # botocore's ``retries["max_attempts"]`` counts *retries* (it adds one for the first
    # try); ``total_max_attempts`` counts attempts, like the AWS_MAX_ATTEMPTS variable
    # the setting is named after. So AWS_MAX_ATTEMPTS=3 means three requests at most.
    return Config(
        retries={"mode": settings.AWS_RETRY_MODE, "total_max_attempts": settings.AWS_MAX_ATTEMPTS},
        connect_timeout=settings.AWS_CONNECT_TIMEOUT,
        read_timeout=settings.AWS_READ_TIMEOUT,
    )


def endpoint_url() -> str | None:
    """The explicit endpoint (moto in tests and the demo); ``None`` means AWS's own.

    boto3 also honours the ``AWS_ENDPOINT_URL`` environment variable by itself; passing
    the setting explicitly makes a settings override win over a stray environment value.
    """
    from django.conf import settings

    return settings.AWS_ENDPOINT_URL or None


def make_client(
    session: boto3.Session,
    service: str,
    *,
    region: str,
    api_calls: Counter,
    lock: threading.Lock | None = None,
) -> Any:
    """A boto3 client with keytrail's config, call counting and the allowlist guard."""
    client = session.client(service, region_name=region, endpoint_url=endpoint_url(), config=client_config())
    _instrument(client, api_calls, lock or threading.Lock())
    return client


def _instrument(client: Any, api_calls: Counter, lock: threading.Lock) -> None:
    events = client.meta.events

    # before-send fires once per HTTP attempt (botocore's retry loop re-sends), so
    # retries are counted as calls. The lock matters: connectors may call one client
    # from a few threads, and Counter's += is not atomic.
    def count(event_name: str, **kwargs: Any) -> None:
        operation = event_name.rsplit(".", 1)[-1]
        with lock:
            api_calls[operation] += 1

    # The allowlist guard, first of all handlers. Already there when the session came
    # from new_session (same unique id: no second registration); added for any other.
    events.register_first("provide-client-params", refuse_unlisted, unique_id=GUARD_ID)

    # And once more as the last step before anything leaves: nothing that somehow skipped
    # the first check (a private botocore path) is sent either.
    service = client.meta.service_model.service_name

    def last_check(event_name: str, **kwargs: Any) -> None:
        check(service, event_name.rsplit(".", 1)[-1])

    events.register_first("before-send", last_check, unique_id=f"{GUARD_ID}-send")
    events.register("before-send", count, unique_id=f"keytrail-count-{id(api_calls)}")


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    # Service models are large JSON files; a fresh session re-reads them (~0.1 s per
    # collection). Sharing one loader (its cache) across sessions avoids that. It holds
    # API models only, never credentials or clients.
    return botocore.loaders.create_loader()


def new_session(**kwargs: Any) -> boto3.Session:
    """A boto3 Session (default chain unless keys are given) sharing the model loader.

    The allowlist guard is registered on the session itself: every client made from it,
    by :func:`make_client` or otherwise (``session.client``, ``session.resource``), refuses
    operations that are not on the allowlist.
    """
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    core.get_component("event_emitter").register_first("provide-client-params", refuse_unlisted, unique_id=GUARD_ID)
    return boto3.Session(botocore_session=core, **kwargs)


def parse_role_arn(role_arn: str) -> tuple[str, str] | None:
    """``(partition, account_id)`` of an IAM role ARN, or ``None`` if it is not one."""
    match = _ROLE_ARN.match(role_arn or "")
    return (match["partition"], match["account"]) if match else None


def session_for_target(target: Target, *, api_calls: Counter) -> AwsSession:
    """Assume ``target.role_arn`` from the default credential chain and return a session.

    With an empty ``role_arn`` the default chain's own credentials are used (the
    single-account demo). Raises :class:`ConnectorError` ``assume_role_failed`` when the
    role cannot be assumed, ``throttled``/``unreachable`` (retryable) for transient trouble.
    """
    from django.conf import settings

    lock = threading.Lock()
    base = new_session()
    region = target.region or base.region_name or _DEFAULT_REGION
    partition, account_id = "aws", target.source_key
    if not target.role_arn:
        return AwsSession(base, api_calls, account_id, partition, region, lock)

    parsed = parse_role_arn(target.role_arn)
    if parsed is None:
        raise ConnectorError(f"not an IAM role ARN: {target.role_arn!r}", code="assume_role_failed")
    partition, role_account = parsed
    if target.source_key and role_account != target.source_key:
        # Reading account B's IAM needs a role in account B; anything else is a
        # misconfigured source that would file one account's data under another.
        raise ConnectorError(
            f"role {target.role_arn} is in account {role_account}, not {target.source_key}",
            code="assume_role_failed",
        )

    sts = make_client(base, "sts", region=region, api_calls=api_calls, lock=lock)
    params: dict[str, Any] = {
        "RoleArn": target.role_arn,
        "RoleSessionName": settings.AWS_ASSUME_ROLE_SESSION_NAME,
    }
    if target.external_id:
        params["ExternalId"] = target.external_id
    try:
        credentials = sts.assume_role(**params)["Credentials"]
    except Exception as exc:  # noqa: BLE001 - every failure becomes a ConnectorError below
        error = translate_error(exc, context=f"AssumeRole {target.role_arn}")
        if error.code in {"throttled", "unreachable", "service_unavailable"}:
            raise error from exc
        raise ConnectorError(f"cannot assume {target.role_arn}: {error}", code="assume_role_failed") from exc

    session = new_session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )
    return AwsSession(session, api_calls, role_account, partition, region, lock)


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ``ClientError`` (``""`` for anything else)."""
    if isinstance(exc, bce.ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def translate_error(exc: BaseException, *, context: str = "") -> ConnectorError:
    """Map a boto3/botocore exception to a :class:`ConnectorError` with a stable code.

    ``throttled`` (retries exhausted), ``service_unavailable`` (5xx after retries) and
    ``unreachable`` (connection refused, connect/read timeout) are retryable;
    ``malformed_response`` (botocore could not parse the reply), ``access_denied``,
    ``no_credentials``, ``invalid_request`` and ``aws_error`` are not.
    """
    prefix = f"{context}: " if context else ""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, bce.ClientError):
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        attempts = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)
        message = f"{prefix}{code or 'error'} (HTTP {status}, {attempts} retries): {exc}"
        if code in THROTTLING_CODES or status == 429:
            return ConnectorError(message, code="throttled", retryable=True)
        if status >= 500:
            return ConnectorError(message, code="service_unavailable", retryable=True)
        if code in ACCESS_DENIED_CODES:
            return ConnectorError(message, code="access_denied")
        return ConnectorError(message, code="aws_error")
    if isinstance(exc, ResponseParserError):
        return ConnectorError(f"{prefix}unparseable response: {exc}", code="malformed_response")
    if isinstance(exc, (bce.NoCredentialsError, bce.PartialCredentialsError)):
        return ConnectorError(f"{prefix}no base AWS credentials: {exc}", code="no_credentials")
    if isinstance(exc, (bce.ConnectionError, bce.HTTPClientError)):
        # EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError...
        return ConnectorError(f"{prefix}unreachable: {exc}", code="unreachable", retryable=True)
    if isinstance(exc, bce.ParamValidationError):
        return ConnectorError(f"{prefix}invalid request: {exc}", code="invalid_request")
    if isinstance(exc, (KeyError, TypeError, ValueError)):
        # A response that parsed but lacks what the API promises.
        return ConnectorError(f"{prefix}unexpected response shape: {exc!r}", code="malformed_response")
    return ConnectorError(f"{prefix}{type(exc).__name__}: {exc}", code="aws_error")


@contextlib.contextmanager
def aws_errors(context: str) -> Iterator[None]:
    """Re-raise anything from the block as a :class:`ConnectorError` (see translate_error)."""
    try:
        yield
    except ConnectorError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise translate_error(exc, context=context) from exc


def as_utc(value: Any) -> datetime | None:
    """botocore datetimes come back in the local zone (``tzlocal``); store UTC."""
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def tags_dict(tags: Any) -> dict[str, str]:
    """AWS ``[{"Key", "Value"}]`` -> ``{key: value}``, values kept verbatim (never cleaned)."""
    result: dict[str, str] = {}
    for tag in tags or []:
        if isinstance(tag, dict) and "Key" in tag:
            result[str(tag["Key"])] = "" if tag.get("Value") is None else str(tag["Value"])
    return result
