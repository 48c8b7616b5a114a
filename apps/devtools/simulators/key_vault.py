"""A local Azure Key Vault (secrets data plane) for tests and the demo.

No Key Vault emulator exists in any registry we can reach, so this module speaks just
enough of the REST API (``GET /secrets`` and ``GET /secrets/{name}/versions``, paged by
an absolute ``nextLink``; the bearer challenge) over real HTTPS for the unmodified
``azure-keyvault-secrets`` SDK to talk to it.

It stores **no secret values**: every request for one (``GET /secrets/{name}`` or
``GET /secrets/{name}/{version}``) is refused with 403 and appended to
:attr:`KeyVaultSimulator.violations`, as is every write. Tests assert that list stays
empty.

Keys and certificates are served the same way, metadata only: ``GET /keys``,
``GET /keys/{name}/versions`` and ``GET /keys/{name}/rotationpolicy``; ``GET /certificates``,
``GET /certificates/{name}/versions`` and ``GET /certificates/{name}/policy`` (lifetime actions,
issuer). No key material and no certificate is stored: ``GET /keys/{name}[/{version}]`` (the
key, its public JWK) is a ``key_read`` violation, ``GET /certificates/{name}[/{version}]`` (the
certificate) a ``certificate_read`` violation, and the secret backing a certificate lives at
``/secrets/{name}``, already a ``value_read``. ``refuse_keys`` / ``refuse_certificates`` answer
403 on those routes only (an identity with permission to list secrets only).

One :class:`KeyVaultSimulator` is one vault: its own ``ThreadingHTTPServer`` on its own
127.0.0.1 port, served from a daemon thread. All vaults of a process share one
self-signed certificate (generated on first start), so a single CA file
(:attr:`KeyVaultSimulator.ca_path`) trusts every simulated vault, the way one
``AZURE_CONNECTION_VERIFY`` setting serves every configured vault.

Typical use::

    vault = KeyVaultSimulator("payments").start()
    vault.add_secret("db-password", created=..., updated=..., tags={"owner": "ops"})
    vault.throttle(times=2, retry_after=0.1)      # fault injection, per vault
    ...
    assert vault.violations == []
    vault.stop()

Clients authenticate with :class:`SimulatorCredential` (any token is accepted unless the
vault is told to refuse tokens with ``refuse_tokens = True``).
"""

from __future__ import annotations

import atexit
import base64
import bisect
import dataclasses
import ipaddress
import json
import os
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, unquote, urlsplit

from azure.core.credentials import AccessToken

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 25  # Key Vault rejects maxresults above 25
DEFAULT_TENANT_ID = "72f988bf-0000-4000-8000-00000000cafe"
SIMULATOR_TOKEN = "keytrail-simulator-token"
RESOURCE = "https://vault.azure.net"

# Key Vault object names: 1-127 characters, ASCII letters, digits and dashes.
_NAME_RE = re.compile(r"^[0-9A-Za-z-]{1,127}$")
# api-version values the real service accepts: 7.x (and 2016-10-01) or the newer dated ones.
_API_VERSION_RE = re.compile(r"^(7\.\d+(-preview(\.\d+)?)?|\d{4}-\d{2}-\d{2}(-preview)?)$")
_OLDER_VERSION_SPACING = timedelta(days=90)
# Routes a fault can be narrowed to (``only=``): secrets' list and versions, then keys' and
# certificates' routes.
ITEM_ROUTES = ("keys", "key_versions", "rotation_policy", "certificates", "certificate_versions", "certificate_policy")
FAULT_SCOPES = frozenset({"any", "list", "versions", *ITEM_ROUTES})
# Names under /certificates that are not certificates (issuers and contacts have their own listings).
_CERTIFICATE_RESERVED = frozenset({"issuers", "contacts"})

Timestamp = datetime | int | float


# --------------------------------------------------------------------------- credential


class SimulatorCredential:
    """A token credential the simulated vaults accept (tests and the demo).

    Instantiated with no arguments, as ``AZURE_CREDENTIAL_CLASS`` requires. Every token it
    hands out is recorded in :attr:`issued` as ``(scopes, tenant_id)`` so tests can see
    that the SDK followed the vault's challenge.
    """

    token = SIMULATOR_TOKEN
    issued: list[tuple[tuple[str, ...], str | None]] = []
    _issued_lock = threading.Lock()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        with self._issued_lock:
            self.issued.append((tuple(scopes), tenant_id))
        return AccessToken(self.token, int(time.time()) + 3600)

    def close(self) -> None:
        pass

    def __enter__(self) -> SimulatorCredential:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# -------------------------------------------------------------------------- certificate

_cert_lock = threading.Lock()
_cert_paths: tuple[str, str] | None = None


def certificate_paths() -> tuple[str, str]:
    """Return ``(cert_pem_path, key_pem_path)`` of the process-wide self-signed certificate.

    Generated on first call (EC P-256, valid for localhost and 127.0.0.1) in a temporary
    directory that is removed when the interpreter exits.
    """
    global _cert_paths
    with _cert_lock:
        if _cert_paths is None:
            _cert_paths = _generate_certificate()
        return _cert_paths


def _generate_certificate() -> tuple[str, str]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keytrail Key Vault simulator")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        # Self-signed and used directly as the trust anchor: mark it a CA like `openssl req -x509` does.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory = tempfile.mkdtemp(prefix="keytrail-kv-simulator-")
    atexit.register(shutil.rmtree, directory, True)
    cert_path = os.path.join(directory, "simulator-ca.pem")
    key_path = os.path.join(directory, "simulator-key.pem")
    with open(cert_path, "wb") as fh:
        fh.write(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return cert_path, key_path


# ------------------------------------------------------------------------------- model


class RequestRecord(NamedTuple):
    method: str
    path: str  # without the query string
    status: int


class Violation(NamedTuple):
    kind: str  # "value_read", "key_read", "certificate_read" or "write"
    method: str
    path: str


@dataclass
class _Version:
    version: str
    enabled: bool | None
    created: int | None
    updated: int | None
    expires: int | None
    not_before: int | None
    content_type: str | None
    tags: dict[str, str] | None
    managed: bool | None
    recovery_level: str | None

    def item(self, item_id: str) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        for key, value in (
            ("enabled", self.enabled),
            ("created", self.created),
            ("updated", self.updated),
            ("exp", self.expires),
            ("nbf", self.not_before),
            ("recoveryLevel", self.recovery_level),
        ):
            if value is not None:
                attributes[key] = value
        item: dict[str, Any] = {"id": item_id, "attributes": attributes}
        if self.content_type is not None:
            item["contentType"] = self.content_type
        if self.tags is not None:
            item["tags"] = dict(self.tags)
        if self.managed is not None:
            item["managed"] = self.managed
        return item


@dataclass
class _Secret:
    name: str
    versions: list[_Version] = field(default_factory=list)  # oldest first; the last is current


@dataclass
class _Fault:
    kind: str  # throttle | error | slow | truncate | malformed_json
    remaining: int | None  # None: every matching request
    scope: str  # any | list | versions
    status: int = 500
    retry_after: float = 1
    seconds: float = 0.0


def _epoch(value: Timestamp | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return int(value.timestamp())
    return int(value)


def _error(code: str, message: str, inner: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if inner:
        body["innererror"] = {"code": inner}
    return {"error": body}


def _encode_marker(marker: Any) -> str:
    raw = json.dumps({"NextMarker": marker}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_marker(token: str) -> Any:
    padded = token + "=" * (-len(token) % 4)
    return json.loads(base64.urlsafe_b64decode(padded.encode()))["NextMarker"]


# ------------------------------------------------------------------ keys and certificates

_KEY_ROUTES = frozenset({"keys", "key_versions", "rotation_policy", "key_read"})
_CERTIFICATE_ROUTES = frozenset({"certificates", "certificate_versions", "certificate_policy", "certificate_read"})
_VIOLATIONS = {"value": "value_read", "key_read": "key_read", "certificate_read": "certificate_read", "write": "write"}


def _route(segments: list[str]) -> str:
    """The route of a GET to ``segments``: a listing, a policy, a violation or ``other``."""
    head, n = segments[:1], len(segments)
    if head == ["secrets"]:
        if n == 1:
            return "list"
        if n == 3 and segments[2] == "versions":
            return "versions"
        return "value" if n in (2, 3) else "other"
    if head == ["keys"]:
        if n == 1:
            return "keys"
        if n == 3 and segments[2] == "versions":
            return "key_versions"
        if n == 3 and segments[2] == "rotationpolicy":
            return "rotation_policy"
        return "key_read" if n in (2, 3) else "other"  # the key itself: its public JWK
    if head == ["certificates"]:
        if n == 1:
            return "certificates"
        if segments[1].lower() in _CERTIFICATE_RESERVED:
            return "other"
        if n == 3 and segments[2] == "versions":
            return "certificate_versions"
        if n == 3 and segments[2] == "policy":
            return "certificate_policy"
        return "certificate_read" if n in (2, 3) else "other"  # the certificate (and pending operations)
    return "other"


def _duration(days: int) -> str:
    return f"P{int(days)}D"


def rotation_policy(
    *,
    rotate_after_days: int | None = None,
    rotate_before_expiry_days: int | None = None,
    expiry_days: int | None = None,
    notify_before_expiry_days: int | None = 30,
) -> dict[str, Any]:
    """A key rotation policy as Key Vault returns it (``GET /keys/{name}/rotationpolicy``).

    Without ``rotate_*`` it is the service's default: a Notify action only, no rotation.
    """
    actions: list[dict[str, Any]] = []
    if rotate_after_days is not None:
        actions.append({"trigger": {"timeAfterCreate": _duration(rotate_after_days)}, "action": {"type": "Rotate"}})
    if rotate_before_expiry_days is not None:
        actions.append({"trigger": {"timeBeforeExpiry": _duration(rotate_before_expiry_days)}, "action": {"type": "Rotate"}})
    if notify_before_expiry_days is not None:
        actions.append({"trigger": {"timeBeforeExpiry": _duration(notify_before_expiry_days)}, "action": {"type": "Notify"}})
    attributes: dict[str, Any] = {}
    if expiry_days is not None:
        attributes["expiryTime"] = _duration(expiry_days)
    return {"lifetimeActions": actions, "attributes": attributes}


def certificate_policy(
    *,
    issuer: str = "Self",
    auto_renew: bool = True,
    lifetime_percentage: int | None = 80,
    days_before_expiry: int | None = None,
    validity_months: int = 12,
    subject: str = "CN=example.test",
) -> dict[str, Any]:
    """A certificate policy as Key Vault returns it (``GET /certificates/{name}/policy``):
    the issuer, X.509 properties and one lifetime action, AutoRenew or EmailContacts."""
    trigger = {"days_before_expiry": days_before_expiry} if days_before_expiry is not None else {"lifetime_percentage": lifetime_percentage}
    return {
        "key_props": {"exportable": True, "kty": "RSA", "key_size": 2048, "reuse_key": False},
        "secret_props": {"contentType": "application/x-pkcs12"},
        "x509_props": {"subject": subject, "sans": {"dns_names": []}, "ekus": ["1.3.6.1.5.5.7.3.1"], "validity_months": validity_months},
        "lifetime_actions": [{"trigger": trigger, "action": {"action_type": "AutoRenew" if auto_renew else "EmailContacts"}}],
        "issuer": {"name": issuer},
        "attributes": {"enabled": True},
    }


@dataclass
class _ItemVersion:
    version: str
    enabled: bool | None
    created: int | None
    updated: int | None
    expires: int | None
    not_before: int | None
    tags: dict[str, str] | None
    managed: bool | None
    recovery_level: str | None
    x5t: str | None

    def item(self, id_field: str, item_id: str) -> dict[str, Any]:
        attributes: dict[str, Any] = {}
        for key, value in (
            ("enabled", self.enabled),
            ("created", self.created),
            ("updated", self.updated),
            ("exp", self.expires),
            ("nbf", self.not_before),
            ("recoveryLevel", self.recovery_level),
        ):
            if value is not None:
                attributes[key] = value
        item: dict[str, Any] = {id_field: item_id, "attributes": attributes}
        if self.x5t is not None:
            item["x5t"] = self.x5t
        if self.tags is not None:
            item["tags"] = dict(self.tags)
        if self.managed is not None:
            item["managed"] = self.managed
        return item


@dataclass
class _Item:
    name: str
    versions: list[_ItemVersion] = field(default_factory=list)  # oldest first
    policy: Any = None  # raw JSON answered on the policy route; None: the service's default


class _ItemStore:
    """The keys (or certificates) of one simulated vault: metadata and policies only.

    ``vault.keys.add("signing", expires=..., policy=rotation_policy(rotate_after_days=90))``;
    ``vault.certificates.add("www", policy=certificate_policy(auto_renew=False))``.
    """

    def __init__(self, collection: str, simulator: KeyVaultSimulator, *, id_field: str) -> None:
        self.collection = collection  # "keys" | "certificates": the URL segment
        self.id_field = id_field  # "kid" for keys, "id" for certificates
        self._simulator = simulator
        self._lock = threading.Lock()
        self._order: list[str] = []
        self._entries: dict[str, _Item | dict[str, Any]] = {}

    def clear(self) -> None:
        with self._lock:
            self._order.clear()
            self._entries.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._order)

    def item_id(self, name: str, version: str | None = None) -> str:
        base = f"{self._simulator.url}/{self.collection}/{name}"
        return f"{base}/{version}" if version else base

    def add(
        self,
        name: str,
        *,
        enabled: bool | None = True,
        created: Timestamp | None = None,
        updated: Timestamp | None = None,
        expires: Timestamp | None = None,
        not_before: Timestamp | None = None,
        tags: Mapping[str, str] | None = None,
        managed: bool | None = None,
        recovery_level: str | None = "Recoverable+Purgeable",
        versions: int = 1,
        policy: Any = None,
    ) -> str:
        """Add an item (metadata only) and return its id. With ``versions > 1`` older versions
        are created 90 days apart before the current one. ``policy``: the raw JSON served on
        the policy route (:func:`rotation_policy`, :func:`certificate_policy`), None for the default."""
        if not _NAME_RE.match(name):
            raise ValueError(f"invalid Key Vault object name {name!r}")
        if versions < 1:
            raise ValueError("an item has at least one version")
        created_s = _epoch(created) if created is not None else int(time.time())
        updated_s = _epoch(updated) if updated is not None else created_s
        spacing = int(_OLDER_VERSION_SPACING.total_seconds())
        certificate = self.collection == "certificates"

        def version(created: int, updated: int) -> _ItemVersion:
            return _ItemVersion(
                version=uuid.uuid4().hex,
                enabled=enabled,
                created=created,
                updated=updated,
                expires=_epoch(expires),
                not_before=_epoch(not_before),
                tags=dict(tags) if tags is not None else None,
                managed=managed,
                recovery_level=recovery_level,
                x5t=base64.urlsafe_b64encode(os.urandom(20)).decode().rstrip("=") if certificate else None,
            )

        item = _Item(name=name, policy=policy)
        for age in range(versions - 1, 0, -1):
            older = created_s - age * spacing
            item.versions.append(version(older, older))
        item.versions.append(version(created_s, updated_s))
        key = name.lower()
        with self._lock:
            if key in self._entries:
                raise ValueError(f"{self.collection[:-1]} {name!r} already exists")
            self._entries[key] = item
            bisect.insort(self._order, key)
        return self.item_id(name)

    def seed(self, count: int, *, prefix: str, **kwargs: Any) -> list[str]:
        return [self.add(f"{prefix}-{i:05d}", **kwargs) for i in range(count)]

    def delete(self, name: str) -> None:
        """Remove an item (a key or certificate deleted between two collections)."""
        key = name.lower()
        with self._lock:
            del self._entries[key]
            self._order.remove(key)

    def set_policy(self, name: str, policy: Any) -> None:
        with self._lock:
            entry = self._entries[name.lower()]
            if not isinstance(entry, _Item):
                raise KeyError(name)
            entry.policy = policy

    def add_raw(self, item: Any, *, sort_key: str) -> None:
        """Put an arbitrary JSON value into the listing at ``sort_key``'s place (malformed-item
        tests); its versions and policy routes answer 404."""
        key = sort_key.lower()
        with self._lock:
            if key in self._entries:
                raise ValueError(f"sort key {sort_key!r} already used")
            self._entries[key] = {"raw": item}
            bisect.insort(self._order, key)

    def answer(self, route: str, segments: list[str], marker: Any, page_size: int, api_version: str) -> tuple[int, Any]:
        """``(status, body)`` for a listing, versions or policy request."""
        if route in ("keys", "certificates"):
            return 200, self._list_page(marker, page_size, api_version)
        name = segments[1]
        with self._lock:
            entry = self._entries.get(name.lower())
            item = entry if isinstance(entry, _Item) else None
            if item is None:
                what = "key" if self.collection == "keys" else "certificate"
                code = "KeyNotFound" if what == "key" else "CertificateNotFound"
                return 404, _error(code, f"A {what} with (name/id) {name} was not found in this key vault.")
            if route in ("key_versions", "certificate_versions"):
                start = marker if isinstance(marker, int) and marker >= 0 else 0
                chosen = item.versions[start : start + page_size]
                more = start + page_size < len(item.versions)
                items = [v.item(self.id_field, self.item_id(item.name, v.version)) for v in chosen]
                next_link = None
                if more:
                    next_link = (
                        f"{self._simulator.url}/{self.collection}/{item.name}/versions?api-version={api_version}"
                        f"&$skiptoken={_encode_marker(start + page_size)}&maxresults={page_size}"
                    )
                return 200, {"value": items, "nextLink": next_link}
            policy = item.policy
            if policy is None:
                policy = rotation_policy() if route == "rotation_policy" else certificate_policy()
            if isinstance(policy, dict):
                suffix = "rotationpolicy" if route == "rotation_policy" else "policy"
                policy = {"id": f"{self.item_id(item.name)}/{suffix}", **policy}
            return 200, policy

    def _list_page(self, marker: Any, page_size: int, api_version: str) -> dict[str, Any]:
        with self._lock:
            start = bisect.bisect_right(self._order, marker) if isinstance(marker, str) else 0
            keys = self._order[start : start + page_size]
            more = start + page_size < len(self._order)
            items = []
            for key in keys:
                entry = self._entries[key]
                if isinstance(entry, _Item):
                    items.append(entry.versions[-1].item(self.id_field, self.item_id(entry.name)))
                else:
                    items.append(entry["raw"])
        next_link = None
        if more:
            next_link = (
                f"{self._simulator.url}/{self.collection}?api-version={api_version}"
                f"&$skiptoken={_encode_marker(keys[-1])}&maxresults={page_size}"
            )
        return {"value": items, "nextLink": next_link}


# --------------------------------------------------------------------------- HTTP layer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real service
    server_version = "keytrail-kv-simulator/1"
    sys_version = ""
    timeout = 60  # an idle keep-alive connection does not hold a thread forever

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _dispatch(self) -> None:
        self.server.simulator._handle(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class _VaultServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: KeyVaultSimulator, context: ssl.SSLContext):
        self.simulator = simulator
        self.ssl_context = context
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        # The TLS handshake happens here, in the request's own thread, so a client that
        # stalls or refuses our certificate never blocks the accept loop.
        request.settimeout(10)
        # Headers and body go out as separate writes; without TCP_NODELAY, Nagle's algorithm
        # meets the client's delayed ACK and every response waits ~40 ms.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up mid-response are part of the tests, not server errors


_server_context_lock = threading.Lock()
_server_context: ssl.SSLContext | None = None


def _tls_context() -> ssl.SSLContext:
    global _server_context
    with _server_context_lock:
        if _server_context is None:
            cert_path, key_path = certificate_paths()
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cert_path, key_path)
            _server_context = context
        return _server_context


# --------------------------------------------------------------------------- simulator


class KeyVaultSimulator:
    """One simulated vault: HTTPS on 127.0.0.1, secrets metadata only, fault injection."""

    def __init__(
        self,
        name: str = "vault",
        *,
        port: int = 0,
        host: str = "127.0.0.1",
        tenant_id: str = DEFAULT_TENANT_ID,
        default_page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        self.name = name
        self.host = host
        self.tenant_id = tenant_id
        self.default_page_size = default_page_size
        self.refuse_tokens = False
        # 403 on the keys (certificates) routes only: an identity allowed to list secrets only.
        self.refuse_keys = False
        self.refuse_certificates = False
        self._requested_port = port
        self.port: int | None = None
        self._lock = threading.Lock()
        self._server: _VaultServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._order: list[str] = []  # sort keys of listed entries, sorted
        self._entries: dict[str, _Secret | dict[str, Any]] = {}  # sort key -> secret or raw item
        self._raw_versions: dict[str, dict[str, Any]] = {}  # name -> the raw item as a version
        self._faults: list[_Fault] = []
        self._requests: list[RequestRecord] = []
        self._violations: list[Violation] = []
        self.keys = _ItemStore("keys", self, id_field="kid")
        self.certificates = _ItemStore("certificates", self, id_field="id")

    def __repr__(self) -> str:
        return f"<KeyVaultSimulator {self.name} {self.url if self._server else '(not serving)'}>"

    # lifecycle ------------------------------------------------------------------------

    def start(self) -> KeyVaultSimulator:
        """Bind (port 0 picks a free one) and serve from a daemon thread; returns self."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _VaultServer((self.host, self._requested_port), self, _tls_context())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"kv-simulator-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; sleeping (slow) responses are woken and abandoned.

        ``url`` keeps its port, so a stopped vault serves as an unreachable one.
        """
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> KeyVaultSimulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The vault URL, e.g. ``https://127.0.0.1:50123`` (only once started)."""
        if self.port is None:
            raise RuntimeError("the simulator has not been started")
        return f"https://{self.host}:{self.port}"

    @property
    def ca_path(self) -> str:
        """PEM file of the certificate every simulated vault serves; trust it as a CA bundle."""
        return certificate_paths()[0]

    def reset(self) -> None:
        """Forget secrets, faults, the request log and violations; accept tokens again."""
        with self._lock:
            self._order.clear()
            self._entries.clear()
            self._raw_versions.clear()
            self._faults.clear()
            self._requests.clear()
            self._violations.clear()
            self.refuse_tokens = False
            self.refuse_keys = self.refuse_certificates = False
            self.keys.clear()
            self.certificates.clear()

    # observation ----------------------------------------------------------------------

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request served so far, as ``(method, path, status)``, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def violations(self) -> list[Violation]:
        """Requests for a secret value, and writes. Must stay empty."""
        with self._lock:
            return list(self._violations)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    # seeding ----------------------------------------------------------------------------

    def add_secret(
        self,
        name: str,
        *,
        enabled: bool | None = True,
        created: Timestamp | None = None,
        updated: Timestamp | None = None,
        expires: Timestamp | None = None,
        not_before: Timestamp | None = None,
        content_type: str | None = None,
        tags: Mapping[str, str] | None = None,
        managed: bool | None = None,
        recovery_level: str | None = "Recoverable+Purgeable",
        versions: int = 1,
    ) -> str:
        """Add a secret (metadata only) and return its id (without version).

        ``created``/``updated`` describe the current version, as the list call shows them
        (default: now, and ``created``). With ``versions > 1`` the older versions are
        created 90 days apart before it. Timestamps are aware datetimes or Unix seconds.
        """
        if not _NAME_RE.match(name):
            raise ValueError(f"invalid Key Vault secret name {name!r}")
        if versions < 1:
            raise ValueError("a secret has at least one version")
        created_s = _epoch(created) if created is not None else int(time.time())
        updated_s = _epoch(updated) if updated is not None else created_s
        common = dict(
            enabled=enabled,
            expires=_epoch(expires),
            not_before=_epoch(not_before),
            content_type=content_type,
            tags=dict(tags) if tags is not None else None,
            managed=managed,
            recovery_level=recovery_level,
        )
        spacing = int(_OLDER_VERSION_SPACING.total_seconds())
        secret = _Secret(name=name)
        for age in range(versions - 1, 0, -1):
            older = created_s - age * spacing
            secret.versions.append(_Version(version=uuid.uuid4().hex, created=older, updated=older, **common))
        secret.versions.append(_Version(version=uuid.uuid4().hex, created=created_s, updated=updated_s, **common))
        key = name.lower()
        with self._lock:
            if key in self._entries:
                raise ValueError(f"secret {name!r} already exists; use add_version()")
            self._entries[key] = secret
            bisect.insort(self._order, key)
        return self._secret_id(name)

    def seed(self, count: int, *, prefix: str = "secret", **kwargs: Any) -> list[str]:
        """Add ``count`` secrets named ``{prefix}-00000``...; keyword arguments as add_secret."""
        return [self.add_secret(f"{prefix}-{i:05d}", **kwargs) for i in range(count)]

    def add_version(self, name: str, *, created: Timestamp | None = None, **changes: Any) -> str:
        """Rotate: add a new current version (inherits the current one's attributes).

        ``created`` defaults to now; ``updated`` to ``created``; other keyword arguments as
        :meth:`add_secret`. Returns the new version id.
        """
        with self._lock:
            secret = self._secret(name)
            current = secret.versions[-1]
            created_s = _epoch(created) if created is not None else int(time.time())
            updated = changes.pop("updated", None)
            updated_s = _epoch(updated) if updated is not None else created_s
            new = dataclasses.replace(current, version=uuid.uuid4().hex, created=created_s, updated=updated_s)
            self._apply_changes(new, changes)
            secret.versions.append(new)
            return new.version

    def update_properties(self, name: str, *, updated: Timestamp | None = None, **changes: Any) -> None:
        """Change the current version's attributes in place (no new version), e.g. tags."""
        with self._lock:
            current = self._secret(name).versions[-1]
            self._apply_changes(current, changes)
            current.updated = _epoch(updated) if updated is not None else int(time.time())

    def add_raw_item(self, item: Any, *, sort_key: str) -> None:
        """Put an arbitrary JSON value into the ``GET /secrets`` listing, at ``sort_key``'s place.

        For malformed-item tests: a non-numeric timestamp, a missing or broken id, etc.
        When the item's id ends in ``/secrets/NAME``, ``GET /secrets/NAME/versions`` lists
        the same item once, as its only version.
        """
        key = sort_key.lower()
        item_id = item.get("id") if isinstance(item, dict) else None
        name = ""
        if isinstance(item_id, str) and "/secrets/" in item_id:
            name = item_id.rstrip("/").rsplit("/secrets/", 1)[-1]
        with self._lock:
            if key in self._entries:
                raise ValueError(f"sort key {sort_key!r} already used")
            self._entries[key] = {"raw": item}
            bisect.insort(self._order, key)
            if name and "/" not in name:
                self._raw_versions[name.lower()] = {**item, "id": f"{item_id.rstrip('/')}/{'0' * 32}"}

    # fault injection ------------------------------------------------------------------
    # Faults apply to authenticated requests only (the challenge round trip stays clean),
    # first matching fault first. ``times=None`` means every matching request.
    # ``only`` narrows a fault to "list" (GET /secrets) or "versions" requests (of secrets), or to
    # one route of keys or certificates: "keys", "key_versions", "rotation_policy",
    # "certificates", "certificate_versions", "certificate_policy".

    def throttle(self, *, times: int | None = 1, retry_after: float = 1, only: str = "any") -> None:
        """Answer 429 Too Many Requests with ``Retry-After`` (seconds)."""
        self._add_fault(_Fault("throttle", times, only, retry_after=retry_after))

    def fail(self, *, times: int | None = 1, status: int = 500, only: str = "any") -> None:
        """Answer with a server error (default 500)."""
        self._add_fault(_Fault("error", times, only, status=status))

    def slow(self, seconds: float, *, times: int | None = 1, only: str = "any") -> None:
        """Sleep ``seconds`` before answering normally."""
        self._add_fault(_Fault("slow", times, only, seconds=seconds))

    def truncate(self, *, times: int | None = 1, only: str = "any") -> None:
        """Send half the body (Content-Length announces all of it), then close the connection."""
        self._add_fault(_Fault("truncate", times, only))

    def malformed_json(self, *, times: int | None = 1, only: str = "any") -> None:
        """Answer 200 with a body that is not valid JSON."""
        self._add_fault(_Fault("malformed_json", times, only))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    # internals --------------------------------------------------------------------------

    def _add_fault(self, fault: _Fault) -> None:
        if fault.scope not in FAULT_SCOPES:
            raise ValueError(f"only must be one of {', '.join(sorted(FAULT_SCOPES))}")
        with self._lock:
            self._faults.append(fault)

    def _take_fault(self, route: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.scope not in ("any", route):
                    continue
                if fault.remaining is None:
                    return fault
                if fault.remaining > 0:
                    fault.remaining -= 1
                    return fault
            return None

    def _secret(self, name: str) -> _Secret:
        entry = self._entries.get(name.lower())
        if not isinstance(entry, _Secret):
            raise KeyError(name)
        return entry

    @staticmethod
    def _apply_changes(version: _Version, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if key in ("expires", "not_before", "created", "updated"):
                value = _epoch(value)
            elif key == "tags" and value is not None:
                value = dict(value)
            if not hasattr(version, key) or key == "version":
                raise TypeError(f"unknown secret attribute {key!r}")
            setattr(version, key, value)

    def _secret_id(self, name: str, version: str | None = None) -> str:
        base = f"https://{self.host}:{self.port}/secrets/{name}" if self.port else f"/secrets/{name}"
        return f"{base}/{version}" if version else base

    def _record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append(RequestRecord(method, path, status))

    def _handle(self, h: _Handler) -> None:
        method = h.command
        split = urlsplit(h.path)
        path = split.path
        segments = [unquote(s) for s in path.strip("/").split("/")] if path.strip("/") else []
        query = parse_qs(split.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        if length:
            h.rfile.read(min(length, 1 << 20))

        route = _route(segments)
        if method != "GET":
            route = "write"
        # Recorded whatever the auth state: the attempt alone is the violation.
        if route in _VIOLATIONS:
            with self._lock:
                self._violations.append(Violation(_VIOLATIONS[route], method, path))

        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not auth[len("Bearer ") :].strip():
            challenge = f'Bearer authorization="https://login.microsoftonline.com/{self.tenant_id}", resource="{RESOURCE}"'
            body = _error("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token.")
            return self._send(h, method, path, 401, body, headers={"WWW-Authenticate": challenge})
        if self.refuse_tokens:
            body = _error(
                "Forbidden",
                f"The user, group or application does not have secrets list permission on key vault '{self.name}'.",
                "AccessDenied",
            )
            return self._send(h, method, path, 403, body)
        if route in ("value", "key_read", "certificate_read"):
            body = _error("Forbidden", "The keytrail simulator stores no secret values, keys or certificates.", "ForbiddenByPolicy")
            return self._send(h, method, path, 403, body)
        refused = (self.refuse_keys and route in _KEY_ROUTES) or (self.refuse_certificates and route in _CERTIFICATE_ROUTES)
        if refused:
            what = "keys" if route in _KEY_ROUTES else "certificates"
            body = _error(
                "Forbidden",
                f"The user, group or application does not have {what} list permission on key vault '{self.name}'.",
                "ForbiddenByPolicy",
            )
            return self._send(h, method, path, 403, body)
        if route == "write":
            return self._send(h, method, path, 405, _error("MethodNotAllowed", "The simulator is read-only."))
        if route == "other":
            return self._send(h, method, path, 404, _error("NotFound", "No such endpoint in the simulator."))

        fault = self._take_fault(route)
        if fault is not None:
            if fault.kind == "throttle":
                body = _error("Throttled", "Request was not processed because too many requests were received.")
                return self._send(h, method, path, 429, body, headers={"Retry-After": f"{fault.retry_after:g}"})
            if fault.kind == "error":
                return self._send(h, method, path, fault.status, _error("InternalServerError", "Simulated failure."))
            if fault.kind == "slow":
                if self._stopping.wait(fault.seconds):
                    h.close_connection = True  # stopping: abandon the request
                    return
            if fault.kind == "malformed_json":
                payload = b'{"value": [{"id": "' + self.url.encode() + b'/secrets/x", "attributes": {"enabled": tru'
                return self._send(h, method, path, 200, payload + b"}}", raw=True)

        api_version = (query.get("api-version") or [""])[0]
        if not _API_VERSION_RE.match(api_version):
            body = _error("BadParameter", f"The specified version ({api_version}) is not recognized.")
            return self._send(h, method, path, 400, body)
        try:
            page_size = int((query.get("maxresults") or [self.default_page_size])[0])
            if not 1 <= page_size <= MAX_PAGE_SIZE:
                raise ValueError
        except ValueError:
            return self._send(h, method, path, 400, _error("BadParameter", "maxresults must be between 1 and 25."))
        token = (query.get("$skiptoken") or [None])[0]

        try:
            marker = _decode_marker(token) if token else None
        except (ValueError, KeyError, TypeError):
            return self._send(h, method, path, 400, _error("BadParameter", "Invalid skip token."))

        if route in ITEM_ROUTES:
            store = self.keys if route in _KEY_ROUTES else self.certificates
            status, body = store.answer(route, segments, marker, page_size, api_version)
            truncate = fault is not None and fault.kind == "truncate"
            return self._send(h, method, path, status, body, truncate=truncate and status == 200)
        if route == "list":
            body = self._list_page(marker, page_size, api_version)
        else:
            body = self._versions_page(segments[1], marker, page_size, api_version)
            if body is None:
                msg = f"A secret with (name/id) {segments[1]} was not found in this key vault."
                return self._send(h, method, path, 404, _error("SecretNotFound", msg))
        truncate = fault is not None and fault.kind == "truncate"
        return self._send(h, method, path, 200, body, truncate=truncate)

    def _list_page(self, marker: Any, page_size: int, api_version: str) -> dict[str, Any]:
        with self._lock:
            start = bisect.bisect_right(self._order, marker) if isinstance(marker, str) else 0
            keys = self._order[start : start + page_size]
            more = start + page_size < len(self._order)
            items = []
            for key in keys:
                entry = self._entries[key]
                if isinstance(entry, _Secret):
                    items.append(entry.versions[-1].item(self._secret_id(entry.name)))
                else:
                    items.append(entry["raw"])
        next_link = None
        if more:
            next_link = f"{self.url}/secrets?api-version={api_version}&$skiptoken={_encode_marker(keys[-1])}&maxresults={page_size}"
        return {"value": items, "nextLink": next_link}

    def _versions_page(self, name: str, marker: Any, page_size: int, api_version: str) -> dict[str, Any] | None:
        with self._lock:
            try:
                secret = self._secret(name)
            except KeyError:
                raw = self._raw_versions.get(name.lower())
                return None if raw is None else {"value": [raw], "nextLink": None}
            start = marker if isinstance(marker, int) and marker >= 0 else 0
            chosen = secret.versions[start : start + page_size]
            more = start + page_size < len(secret.versions)
            items = [v.item(self._secret_id(secret.name, v.version)) for v in chosen]
        next_link = None
        if more:
            next_link = (
                f"{self.url}/secrets/{secret.name}/versions?api-version={api_version}"
                f"&$skiptoken={_encode_marker(start + page_size)}&maxresults={page_size}"
            )
        return {"value": items, "nextLink": next_link}

    def _send(
        self,
        h: _Handler,
        method: str,
        path: str,
        status: int,
        body: Any,
        *,
        headers: Mapping[str, str] | None = None,
        raw: bool = False,
        truncate: bool = False,
    ) -> None:
        self._record(method, path, status)
        payload = body if raw else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            h.send_response(status)
            h.send_header("Content-Type", "application/json; charset=utf-8")
            h.send_header("Content-Length", str(len(payload)))
            h.send_header("x-ms-keyvault-service-version", "1.9.0.0")
            h.send_header("x-ms-request-id", str(uuid.uuid4()))
            for key, value in (headers or {}).items():
                h.send_header(key, value)
            if truncate:
                h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(payload[: len(payload) // 2] if truncate else payload)
            h.wfile.flush()
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError):
            h.close_connection = True
            return
        if truncate:
            h.close_connection = True


def start_vaults(names: Iterable[str]) -> dict[str, KeyVaultSimulator]:
    """Start one simulator per name (for the demo); returns name -> started simulator."""
    return {name: KeyVaultSimulator(name).start() for name in names}
