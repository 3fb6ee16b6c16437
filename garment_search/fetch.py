"""Download a user-supplied image URL without becoming a proxy into our own network (SSRF).

On Cloud Run the function sits next to a metadata server (169.254.169.254) and other private services, so:
only http/https; the host is resolved once and every address checked (loopback, private, link-local, CGNAT,
reserved, multicast, unspecified are refused, IPv4-mapped IPv6 unwrapped); the socket connects to the checked
address itself (TLS still verifies the host name), so DNS cannot be re-asked and answer differently; each
redirect is checked the same way; connect time, total time, body size and redirect count are bounded.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from garment_search.config import FetchLimits
from garment_search.errors import BadRequest, OriginError, OriginTimeout, PayloadTooLarge

REDIRECT_STATUSES = {301, 302, 303, 307, 308}
USER_AGENT = "garment-search/1.0 (+remove_bg)"
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def parse_target(url: str) -> Target:
    """Split and validate a URL; refuses other schemes, missing hosts and embedded credentials."""
    if not isinstance(url, str) or not url.strip():
        raise BadRequest("The url must be a non-empty string.")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise BadRequest("The url is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BadRequest("Only http and https URLs are accepted.")
    if parts.username is not None or parts.password is not None:
        raise BadRequest("URLs with credentials are not accepted.")
    host = parts.hostname
    if not host:
        raise BadRequest("The url has no host.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path)


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """True only for globally routable unicast addresses (embedded IPv4 in IPv6 checked too)."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if embedded is not None and not is_public_address(embedded):
            return False
    return ip.is_global and not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved or ip.is_unspecified
    )


def resolve(host: str, port: int, allow_private: bool) -> list[str]:
    """Every address of ``host``; refuses the lot if any one of them is not public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise OriginError(f"The host {host!r} could not be resolved.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for addr in addresses:
            if not is_public_address(ipaddress.ip_address(addr.split("%", 1)[0])):
                raise BadRequest(f"The host {host!r} resolves to a non-public address, which is refused.")
    return addresses


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """HTTP connection to a checked address; the Host header keeps the URL's host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS connection to a checked address; SNI and certificate checks use the URL's host name."""

    def __init__(self, host: str, address: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise OriginTimeout("The image origin took too long to answer.")
    return left


def _open(target: Target, addresses: list[str], limits: FetchLimits, deadline: float) -> http.client.HTTPConnection:
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    last: Exception | None = None
    for address in addresses:
        conn = cls(target.host, address, target.port, min(limits.connect_timeout_s, _remaining(deadline)))
        try:
            conn.connect()
            return conn
        except (TimeoutError, socket.timeout):
            last = OriginTimeout("Connecting to the image origin timed out.")
        except ssl.SSLError:
            last = OriginError("The image origin's TLS certificate could not be verified.")
        except OSError:
            last = OriginError("The image origin could not be reached.")
        conn.close()
    raise last or OriginError("The image origin could not be reached.")


def _exchange(conn: http.client.HTTPConnection, target: Target, limits: FetchLimits, deadline: float):
    """Send the GET and read status, headers and (unless it is a redirect) the capped body."""
    sock = conn.sock  # kept: http.client drops conn.sock once the answer says the connection will close
    sock.settimeout(_remaining(deadline))
    watchdog = threading.Timer(_remaining(deadline), _shutdown, args=(sock,))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.putrequest("GET", target.path, skip_accept_encoding=True)
        conn.putheader("User-Agent", USER_AGENT)
        conn.putheader("Accept", "image/*")
        conn.putheader("Accept-Encoding", "identity")
        conn.endheaders()
        resp = conn.getresponse()
        if resp.status in REDIRECT_STATUSES:
            return resp.status, resp.getheader("Location"), b""
        if resp.status != 200:
            raise OriginError(f"The image origin answered HTTP {resp.status}.")
        length = resp.getheader("Content-Length")
        if length and length.isdigit() and int(length) > limits.max_bytes:
            raise PayloadTooLarge(f"The image is larger than the {limits.max_bytes} byte limit.")
        chunks, size = [], 0
        while True:
            chunk = resp.read1(_CHUNK)
            if not chunk:
                if time.monotonic() >= deadline:  # the watchdog cut the body short
                    raise OriginTimeout("The image origin took too long to answer.")
                break
            size += len(chunk)
            if size > limits.max_bytes:
                raise PayloadTooLarge(f"The image is larger than the {limits.max_bytes} byte limit.")
            chunks.append(chunk)
        return resp.status, None, b"".join(chunks)
    except (TimeoutError, socket.timeout):
        raise OriginTimeout("The image origin took too long to answer.") from None
    except (http.client.HTTPException, OSError):
        if time.monotonic() >= deadline:
            raise OriginTimeout("The image origin took too long to answer.") from None
        raise OriginError("The image origin sent a broken answer.") from None
    finally:
        watchdog.cancel()
        conn.close()


def _shutdown(sock: socket.socket) -> None:
    """Deadline reached: break any blocking read, however slowly the origin trickles bytes."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def fetch_url(url: str, limits: FetchLimits) -> bytes:
    """The body of ``url`` after at most ``limits.max_redirects`` checked redirects."""
    deadline = time.monotonic() + limits.total_timeout_s
    for _ in range(limits.max_redirects + 1):
        target = parse_target(url)
        addresses = resolve(target.host, target.port, limits.allow_private)
        conn = _open(target, addresses, limits, deadline)
        status, location, body = _exchange(conn, target, limits, deadline)
        if status not in REDIRECT_STATUSES:
            return body
        if not location:
            raise OriginError("The image origin redirected without a location.")
        url = urljoin(url, location)
    raise OriginError(f"The image origin redirected more than {limits.max_redirects} times.")
