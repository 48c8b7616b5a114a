"""A local Microsoft Graph (applications and service principals) for tests and the demo.

Speaks just enough of Graph v1.0 over real HTTPS for keytrail's Entra ID connector:
``GET /v1.0/applications`` and ``GET /v1.0/servicePrincipals`` with ``$select``, ``$top``,
``$expand=owners(...)`` and absolute ``@odata.nextLink`` paging (``$skiptoken``). A request
without a bearer token gets 401. Client secrets carry a ``hint`` and a null ``secretText``
as Graph's do, so tests can prove keytrail keeps neither.

Anything else (``GET /applications/{id}``, ``addPassword``, any write) is refused with 403 and
appended to :attr:`GraphSimulator.violations`; tests assert that list stays empty.

It shares the Key Vault simulator's self-signed certificate (one CA file trusts both) and
its :class:`~apps.devtools.simulators.key_vault.SimulatorCredential`. Typical use::

    graph = GraphSimulator().start()
    app = graph.add_application("billing", owners=["ops@example.com"],
                                passwords=[{"displayName": "ci", "endDateTime": "2027-01-01T00:00:00Z"}])
    graph.throttle(times=1, retry_after=0.1, only="applications")
    ...
    graph.stop()
"""

from __future__ import annotations

import json
import ssl
import threading
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode, urlsplit

from apps.devtools.simulators.key_vault import DEFAULT_TENANT_ID, certificate_paths

ROUTES = {"/v1.0/applications": "applications", "/v1.0/servicePrincipals": "servicePrincipals"}
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 999  # Graph's own cap for these collections
MICROSOFT_TENANT_ID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"  # owner of Microsoft's first-party apps


class RequestRecord(NamedTuple):
    method: str
    path: str
    query: dict[str, list[str]]
    authorized: bool


class Violation(NamedTuple):
    method: str
    path: str
    reason: str


class _Fault(NamedTuple):
    kind: str  # throttle | fail | malformed
    route: str  # applications | servicePrincipals | any
    status: int = 0
    retry_after: float = 0


def iso(value: datetime | str | None) -> str | None:
    """Graph's date format: ``2026-01-31T12:00:00Z`` (strings pass through, for malformed ones)."""
    if value is None or isinstance(value, str):
        return value
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def password_credential(
    display_name: str = "client secret",
    *,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    days: int = 180,
    key_id: str | None = None,
) -> dict[str, Any]:
    """A ``passwordCredential`` as Graph lists it, with a ``hint`` keytrail must not keep."""
    start = start if start is not None else datetime.now(UTC) - timedelta(days=1)
    if end is None and isinstance(start, datetime):
        end = start + timedelta(days=days)
    return {
        "customKeyIdentifier": None,
        "displayName": display_name,
        "endDateTime": iso(end),
        "hint": "Xy9",
        "keyId": key_id or str(uuid.uuid4()),
        "secretText": None,
        "startDateTime": iso(start),
    }


def key_credential(
    display_name: str = "CN=app",
    *,
    start: datetime | str | None = None,
    end: datetime | str | None = None,
    days: int = 365,
    key_id: str | None = None,
) -> dict[str, Any]:
    """A ``keyCredential`` (certificate) as Graph lists it: no key material."""
    start = start if start is not None else datetime.now(UTC) - timedelta(days=1)
    if end is None and isinstance(start, datetime):
        end = start + timedelta(days=days)
    return {
        "customKeyIdentifier": "52B0C4B2E4A4E0B0A0C6A1D0E6B6A1D0E6B6A1D0",  # pragma: allowlist secret
        "displayName": display_name,
        "endDateTime": iso(end),
        "key": None,
        "keyId": key_id or str(uuid.uuid4()),
        "startDateTime": iso(start),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    }


def user_owner(login: str, *, display_name: str = "") -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.user",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, login)),
        "displayName": display_name or login,
        "userPrincipalName": login,
        "mail": login,
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "keytrail-graph-simulator/1"
    sys_version = ""
    timeout = 60

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _dispatch(self) -> None:
        self.server.simulator._handle(self)  # type: ignore[attr-defined]

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], simulator: GraphSimulator, context: ssl.SSLContext):
        self.simulator = simulator
        self.ssl_context = context
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(10)
        try:
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
        except (ConnectionError, ssl.SSLError, TimeoutError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


def _tls_context() -> ssl.SSLContext:
    cert_path, key_path = certificate_paths()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_path, key_path)
    return context


class GraphSimulator:
    """One simulated tenant's Graph: HTTPS on 127.0.0.1, applications and service principals."""

    def __init__(self, tenant_id: str = DEFAULT_TENANT_ID, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.tenant_id = tenant_id
        self.host = host
        self._requested_port = port
        self.port: int | None = None
        self.refuse_tokens = False  # answer 403 (no Application.Read.All) to every listing
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._objects: dict[str, list[dict[str, Any]]] = {"applications": [], "servicePrincipals": []}
        self._faults: list[_Fault] = []
        self._requests: list[RequestRecord] = []
        self._violations: list[Violation] = []

    # lifecycle ------------------------------------------------------------------------

    def start(self) -> GraphSimulator:
        if self._server is not None:
            return self
        self._server = _Server((self.host, self._requested_port), self, _tls_context())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="graph-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> GraphSimulator:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The Graph endpoint, e.g. ``https://127.0.0.1:50123`` (only once started)."""
        if self.port is None:
            raise RuntimeError("the simulator has not been started")
        return f"https://{self.host}:{self.port}"

    @property
    def requests(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._requests)

    @property
    def violations(self) -> list[Violation]:
        with self._lock:
            return list(self._violations)

    # data -----------------------------------------------------------------------------

    def add_application(
        self,
        display_name: str,
        *,
        owners: Sequence[str | dict[str, Any]] | None = None,
        passwords: list[dict[str, Any]] | None = None,
        keys: list[dict[str, Any]] | None = None,
        created: datetime | str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Add an app registration; owners given as logins become user owners. Returns it."""
        app = {
            "id": str(uuid.uuid4()),
            "appId": str(uuid.uuid4()),
            "displayName": display_name,
            "createdDateTime": iso(created or datetime.now(UTC) - timedelta(days=400)),
            "signInAudience": "AzureADMyOrg",
            "passwordCredentials": list(passwords or []),
            "keyCredentials": list(keys or []),
            "owners": [user_owner(o) if isinstance(o, str) else o for o in owners or []],
            **extra,
        }
        with self._lock:
            self._objects["applications"].append(app)
        return app

    def add_service_principal(
        self,
        display_name: str,
        *,
        app_owner_organization_id: str | None = None,
        owners: Sequence[str | dict[str, Any]] | None = None,
        passwords: list[dict[str, Any]] | None = None,
        keys: list[dict[str, Any]] | None = None,
        app_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Add a service principal (of another tenant's app when ``app_owner_organization_id``
        differs from this tenant's id). Returns it."""
        principal = {
            "id": str(uuid.uuid4()),
            "appId": app_id or str(uuid.uuid4()),
            "displayName": display_name,
            "appOwnerOrganizationId": app_owner_organization_id or self.tenant_id,
            "accountEnabled": True,
            "servicePrincipalType": "Application",
            "passwordCredentials": list(passwords or []),
            "keyCredentials": list(keys or []),
            "owners": [user_owner(o) if isinstance(o, str) else o for o in owners or []],
            **extra,
        }
        with self._lock:
            self._objects["servicePrincipals"].append(principal)
        return principal

    def add_raw(self, route: str, item: Any) -> None:
        """List ``item`` as is in ``route`` ("applications" or "servicePrincipals")."""
        with self._lock:
            self._objects[route].append(item)

    def seed(self, count: int, *, prefix: str = "app", owners: Sequence[str] | None = None) -> None:
        """``count`` applications, each with one client secret and one certificate."""
        for i in range(count):
            self.add_application(
                f"{prefix}-{i:05d}",
                owners=owners if owners is not None else [f"owner{i % 7}@example.com"],
                passwords=[password_credential(f"{prefix}-{i:05d} secret")],
                keys=[key_credential(f"CN={prefix}-{i:05d}")],
            )

    def reset(self) -> None:
        with self._lock:
            self._objects = {"applications": [], "servicePrincipals": []}
            self._faults.clear()
            self._requests.clear()
            self._violations.clear()
            self.refuse_tokens = False

    # faults ---------------------------------------------------------------------------

    def throttle(self, *, times: int = 1, retry_after: float = 1, only: str = "any") -> None:
        """The next ``times`` listings (of ``only``) answer 429 with ``Retry-After``."""
        self._add(_Fault("throttle", only, 429, retry_after), times)

    def fail(self, *, times: int = 1, status: int = 500, only: str = "any") -> None:
        self._add(_Fault("fail", only, status), times)

    def malformed_json(self, *, times: int = 1, only: str = "any") -> None:
        self._add(_Fault("malformed", only, 200), times)

    def _add(self, fault: _Fault, times: int) -> None:
        with self._lock:
            self._faults.extend([fault] * times)

    def _take_fault(self, route: str) -> _Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if fault.route in ("any", route):
                    return self._faults.pop(i)
        return None

    # serving --------------------------------------------------------------------------

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        query = parse_qs(parts.query, keep_blank_values=True)
        authorized = (handler.headers.get("Authorization") or "").startswith("Bearer ")
        with self._lock:
            self._requests.append(RequestRecord(handler.command, parts.path, query, authorized))
        route = ROUTES.get(parts.path.rstrip("/"))
        if handler.command != "GET" or route is None:
            with self._lock:
                self._violations.append(Violation(handler.command, parts.path, "not a metadata listing"))
            return self._send(handler, 403, _error("Authorization_RequestDenied", "keytrail may only list metadata"))
        if not authorized:
            return self._send(handler, 401, _error("InvalidAuthenticationToken", "Access token is empty."))
        if self.refuse_tokens:
            return self._send(handler, 403, _error("Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
        fault = self._take_fault(route)
        if fault is not None:
            if fault.kind == "throttle":
                headers = {"Retry-After": f"{fault.retry_after:g}"}
                return self._send(handler, 429, _error("TooManyRequests", "Too many requests"), headers)
            if fault.kind == "fail":
                return self._send(handler, fault.status, _error("UnknownError", "simulated failure"))
            return self._send_raw(handler, 200, b'{"value": [ {"id": "truncated')
        try:
            top = min(max(int((query.get("$top") or [str(DEFAULT_PAGE_SIZE)])[0]), 1), MAX_PAGE_SIZE)
            skip = int((query.get("$skiptoken") or ["0"])[0])
        except ValueError:
            return self._send(handler, 400, _error("Request_BadRequest", "Invalid paging value"))
        select = [f for f in (query.get("$select") or [""])[0].split(",") if f]
        expand = (query.get("$expand") or [""])[0]
        with self._lock:
            items = self._objects[route][skip : skip + top]
            total = len(self._objects[route])
        body: dict[str, Any] = {
            "@odata.context": f"{self.url}/v1.0/$metadata#{route}",
            "value": [self._shape(item, select, expand.startswith("owners")) for item in items],
        }
        if skip + top < total:
            next_query = {k: v[0] for k, v in query.items() if k != "$skiptoken"}
            next_query["$skiptoken"] = str(skip + top)
            body["@odata.nextLink"] = f"{self.url}{parts.path}?{urlencode(next_query)}"
        return self._send(handler, 200, body)

    @staticmethod
    def _shape(item: Any, select: list[str], with_owners: bool) -> Any:
        if not isinstance(item, dict):
            return item
        shaped = {k: v for k, v in item.items() if k != "owners" and (not select or k in select or k == "id")}
        if with_owners and "owners" in item:
            shaped["owners"] = item["owners"]
        return shaped

    def _send(self, handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send_raw(handler, status, json.dumps(body).encode(), headers)

    @staticmethod
    def _send_raw(handler: BaseHTTPRequestHandler, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json; odata.metadata=minimal")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "innerError": {"date": iso(datetime.now(UTC))}}}
