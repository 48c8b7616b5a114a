"""A fault-injecting reverse proxy for the simulated clouds (tests and reliability checks).

Put it in front of moto's server (HTTP) or a Key Vault simulator (HTTPS, same self-signed
certificate) and point keytrail at the proxy instead. It forwards every request unchanged
until a test programs a fault::

    proxy = FaultProxy(moto_url).start()                     # or FaultProxy(vault.url, tls=True)
    proxy.inject("throttle", match="GetAccountAuthorizationDetails", times=2, retry_after=1)
    proxy.inject("reset")                                     # every request, until cleared
    ...
    proxy.seen["GetAccountAuthorizationDetails"]              # attempts that reached the proxy
    proxy.stop()

Faults (``kind``):

``throttle``  429 (Key Vault) or 400 ``Throttling``/``ThrottlingException`` (AWS) with ``Retry-After``
``error``     a server error (``status``, default 500) in the protocol's own error format; ``code``
              and ``message`` make it any other service error (e.g. 404 ``NoSuchEntity``)
``reset``     the TCP connection is reset (RST) without any answer
``slow``      sleeps ``seconds`` before forwarding (beyond the client's read timeout)
``truncate``  the real answer's headers, half its body, then the connection closes
``malformed`` 200 with a body that is neither the XML nor the JSON the client expects
``rewrite``   the real answer with bytes replaced (``replace={b"old": b"new"}``), e.g. to put
              invalid UTF-8 into an otherwise valid body

``match`` is an operation name (AWS ``Action``/``X-Amz-Target`` operation; Key Vault
``ListSecrets``/``ListSecretVersions``), a callable on that name, or ``"*"``; ``body=b"..."``
narrows it to requests whose body holds those bytes (one account's ``AssumeRole``). ``after`` lets
that many matching requests through first; ``times=None`` means until :meth:`clear`.
Requests without an ``Authorization`` header (Key Vault's challenge round trip) are never
faulted. Absolute URLs of the upstream in answers (Key Vault ``nextLink`` and ids) are
rewritten to the proxy's, so paging stays behind the proxy.

Nothing here is imported by the product; it lives beside the simulators it wraps.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import struct
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KINDS = ("throttle", "error", "reset", "slow", "truncate", "malformed", "rewrite")
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "server", "date"}
_QUERY_ERROR = (
    '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>{kind}</Type>'
    "<Code>{code}</Code><Message>{message}</Message></Error><RequestId>fault-proxy</RequestId></ErrorResponse>"
)


@dataclass
class Fault:
    kind: str
    match: str | Callable[[str], bool] = "*"
    times: int | None = 1
    after: int = 0
    status: int | None = None
    retry_after: float = 1
    seconds: float = 0
    code: str | None = None
    message: str | None = None
    replace: dict[bytes, bytes] = field(default_factory=dict)
    body: bytes = b""  # only requests whose body contains these bytes (e.g. one account's AssumeRole)
    fired: int = 0

    def matches(self, operation: str, body: bytes = b"") -> bool:
        if self.body and self.body not in body:
            return False
        if callable(self.match):
            return bool(self.match(operation))
        return self.match in ("*", operation)


def operation_of(method: str, path: str, headers: Any, body: bytes) -> tuple[str, str]:
    """``(operation, protocol)``: protocol is ``json`` (AWS JSON), ``query`` (AWS query/XML) or ``keyvault``."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1], "json"
    route = urllib.parse.urlsplit(path).path.strip("/").split("/")
    if route[:1] == ["secrets"]:
        if len(route) == 1:
            return "ListSecrets", "keyvault"
        if len(route) == 3 and route[2] == "versions":
            return "ListSecretVersions", "keyvault"
        return f"{method} /secrets/…", "keyvault"
    form = urllib.parse.parse_qs(body.decode("utf-8", "replace")) if body else {}
    if not form and "?" in path:
        form = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    return (form.get("Action") or [f"{method} {urllib.parse.urlsplit(path).path}"])[0], "query"


def error_answer(
    kind: str, protocol: str, status: int | None, retry_after: float, code: str | None = None, message: str | None = None
) -> tuple[int, list[tuple[str, str]], bytes]:
    """The status, headers and body a throttled or failing service answers with."""
    json_code = code
    if kind == "throttle":
        code, message = code or "Throttling", message or "Rate exceeded"
        json_code = json_code or "ThrottlingException"
        status = status or (429 if protocol == "keyvault" else 400)
    else:
        code, message = code or "InternalFailure", message or "We encountered an internal error. Please try again."
        json_code = json_code or "InternalServiceError"
        status = status or 500
    headers = [("Retry-After", f"{retry_after:g}")] if kind == "throttle" else []
    if protocol == "keyvault":
        body = json.dumps({"error": {"code": "Throttled" if kind == "throttle" else "InternalServerError", "message": message}})
        return status, [*headers, ("Content-Type", "application/json; charset=utf-8")], body.encode()
    if protocol == "json":
        body = json.dumps({"__type": json_code, "message": message})
        return status, [*headers, ("Content-Type", "application/x-amz-json-1.1")], body.encode()
    side = "Sender" if status < 500 else "Receiver"
    return status, [*headers, ("Content-Type", "text/xml")], _QUERY_ERROR.format(kind=side, code=code, message=message).encode()


def malformed_answer(protocol: str) -> tuple[int, list[tuple[str, str]], bytes]:
    if protocol == "query":
        return 200, [("Content-Type", "text/xml")], b"<ListUsersResponse><unclosed attr='x>&bogus;"
    content_type = "application/json; charset=utf-8" if protocol == "keyvault" else "application/x-amz-json-1.1"
    return 200, [("Content-Type", content_type)], b'{"value": [{"id": "truncated'


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a reset or truncated connection is the point, not an error worth a traceback


class FaultProxy:
    """A threaded reverse proxy in front of ``upstream``; see the module docstring."""

    def __init__(self, upstream: str, *, tls: bool = False, upstream_ca: str | None = None):
        from apps.devtools.simulators.key_vault import certificate_paths

        self.upstream = urllib.parse.urlsplit(upstream)
        self.seen: Counter = Counter()
        self.fired: Counter = Counter()  # (operation, kind) -> faults served
        self._faults: list[Fault] = []
        self._lock = threading.Lock()
        self._upstream_ssl = None
        if self.upstream.scheme == "https":
            self._upstream_ssl = ssl.create_default_context(cafile=upstream_ca or certificate_paths()[0])
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet: tests read ``seen`` instead
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server naming
                proxy._handle(self)

            do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate_paths())
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.scheme = "https" if tls else "http"
        self.url = f"{self.scheme}://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name=f"fault-proxy {self.url}", daemon=True)

    def __repr__(self) -> str:
        return f"<FaultProxy {self.url} -> {self.upstream.geturl()}>"

    # programming --------------------------------------------------------------------------

    def inject(self, kind: str, *, match: str | Callable[[str], bool] = "*", times: int | None = 1, after: int = 0, **params: Any) -> Fault:
        """Add a fault (first added, first served). Returns it (``fault.fired`` counts its uses)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; one of {', '.join(KINDS)}")
        fault = Fault(kind, match=match, times=times, after=after, **params)
        with self._lock:
            self._faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def _take(self, operation: str, body: bytes = b"") -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if not fault.matches(operation, body) or (fault.times is not None and fault.times <= 0):
                    continue
                if fault.after > 0:
                    fault.after -= 1
                    return None
                if fault.times is not None:
                    fault.times -= 1
                fault.fired += 1
                self.fired[(operation, fault.kind)] += 1
                return fault
            return None

    # serving ------------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        operation, protocol = operation_of(h.command, h.path, h.headers, body)
        with self._lock:
            self.seen[operation] += 1
        fault = self._take(operation, body) if h.headers.get("Authorization") else None
        kind = fault.kind if fault else None
        if kind == "reset":
            self._reset(h)
            return
        if kind in ("throttle", "error"):
            self._respond(h, *error_answer(kind, protocol, fault.status, fault.retry_after, fault.code, fault.message))
            return
        if kind == "malformed":
            self._respond(h, *malformed_answer(protocol))
            return
        if kind == "slow":
            time.sleep(fault.seconds)
        try:
            status, headers, payload = self._forward(h.command, h.path, h.headers, body)
        except OSError:
            self._reset(h)
            return
        if kind == "rewrite":
            for old, new in fault.replace.items():
                payload = payload.replace(old, new)
        self._respond(h, status, headers, payload, truncate=kind == "truncate")

    def _forward(self, method: str, path: str, headers: Any, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        host, port = self.upstream.hostname, self.upstream.port
        if self._upstream_ssl is not None:
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=60, context=self._upstream_ssl)
        else:
            connection = http.client.HTTPConnection(host, port, timeout=60)
        try:
            forwarded = {k: v for k, v in headers.items() if k.lower() not in {"host", "connection", "content-length"}}
            forwarded["Host"] = self.upstream.netloc
            connection.request(method, path, body=body or None, headers=forwarded)
            response = connection.getresponse()
            payload = response.read()
            # Keep paging and ids behind the proxy.
            payload = payload.replace(f"{self.upstream.scheme}://{self.upstream.netloc}".encode(), self.url.encode())
            return response.status, response.getheaders(), payload
        finally:
            connection.close()

    @staticmethod
    def _respond(h: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], payload: bytes, *, truncate: bool = False) -> None:
        try:
            h.send_response(status)
            for name, value in headers:
                if name.lower() not in _HOP_HEADERS:
                    h.send_header(name, value)
            h.send_header("Content-Length", str(len(payload)))
            if truncate:
                h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(payload[: len(payload) // 2] if truncate else payload)
            h.wfile.flush()
        except OSError:
            h.close_connection = True
            return
        if truncate:
            h.close_connection = True

    @staticmethod
    def _reset(h: BaseHTTPRequestHandler) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        try:
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        h.close_connection = True
        try:
            h.connection.close()
        except OSError:
            pass

    # lifecycle ----------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
