"""Posting a webhook without becoming a proxy into the private network (SSRF).

- Only ``http`` and ``https`` URLs, without user:password, are accepted.
- The host name is resolved once, every address it resolves to must be a public (global)
  address, and the request is sent to those checked addresses (the connection is pinned to
  them, the next tried when one refuses; TLS still checks the certificate against the host
  name, against the system's CAs or ``KEYTRAIL_WEBHOOK_CA_BUNDLE``). A name that resolves to a public
  address when checked and to 127.0.0.1 when used (DNS rebinding) therefore cannot reach the
  inside.
- Redirects are not followed (a redirect could point inside); environment proxies are not used.
- ``KEYTRAIL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES`` (off by default; on in the tests and the demo,
  whose receivers run on 127.0.0.1) allows loopback, private and link-local addresses. An
  installation whose chat or ticketing system sits on its own network turns it on knowingly
  (docs/notifications.md).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

from apps.core.errors import ValidationFailed

SCHEMES = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[str, ...]  # every address the host resolved to, each checked


@dataclass(frozen=True)
class Response:
    status: int
    body_excerpt: str


def _allowed(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if settings.KEYTRAIL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES and (ip.is_loopback or ip.is_private or ip.is_link_local):
        return not ip.is_unspecified
    return ip.is_global


def check_url(url: str, *, resolve: bool = True) -> Target | None:
    """Refuse (ValidationFailed, with the reason) a URL keytrail must not post to. With
    ``resolve``, the host is resolved and its (checked) addresses returned in a Target."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in SCHEMES:
        raise ValidationFailed("URL: only http:// and https:// addresses are accepted.")
    if not parts.hostname:
        raise ValidationFailed("URL: it names no host.")
    if parts.username or parts.password:
        raise ValidationFailed("URL: user names and passwords in the address are not accepted; the payload is signed instead.")
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError as exc:
        raise ValidationFailed("URL: the port is not a number between 1 and 65535.") from exc
    if not resolve:
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ValidationFailed(f"URL: the host {parts.hostname} cannot be resolved.") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    refused = [a for a in addresses if not _allowed(a)]
    if not addresses or refused:
        raise ValidationFailed(
            f"URL: {parts.hostname} resolves to {', '.join(sorted(set(refused)))}, a private, loopback or reserved address; "
            "keytrail posts only to public addresses (KEYTRAIL_WEBHOOK_ALLOW_PRIVATE_ADDRESSES, docs/notifications.md)."
        )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, parts.hostname, port, path, tuple(addresses))


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> Response:
    """POST ``body`` to ``url`` through the checked, pinned addresses (the next one when a
    connection cannot be made, as a browser does). Raises ValidationFailed for a refused URL and
    urllib3's errors (HTTPError) when no address answers."""
    target = check_url(url)
    assert target is not None
    for address in target.addresses[:-1]:
        try:
            return _post_to(target, address, body, headers, timeout)
        except urllib3.exceptions.NewConnectionError:
            continue
    return _post_to(target, target.addresses[-1], body, headers, timeout)


def _post_to(target: Target, address: str, body: bytes, headers: dict[str, str], timeout: float) -> Response:
    host_header = target.host if target.port == SCHEMES[target.scheme] else f"{target.host}:{target.port}"
    if ":" in target.host and not target.host.startswith("["):
        host_header = f"[{target.host}]" if target.port == SCHEMES[target.scheme] else f"[{target.host}]:{target.port}"
    kwargs: dict = {"timeout": urllib3.Timeout(connect=timeout, read=timeout), "retries": False, "maxsize": 1}
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            cert_reqs="CERT_REQUIRED",
            ca_certs=settings.KEYTRAIL_WEBHOOK_CA_BUNDLE or None,  # None: the system's trust store
            **kwargs,
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, target.port, **kwargs)
    try:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            excerpt = response.read(500, decode_content=False).decode("utf-8", "replace")
        finally:
            response.release_conn()
        return Response(response.status, excerpt)
    finally:
        pool.close()
