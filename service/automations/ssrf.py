"""SSRF policy for webhook URLs: which URLs may be called, and which address to connect to.

`check_url` parses the URL, refuses anything but https (http only when ENVIRONMENT=local),
credentials in the URL and non-canonical numeric hosts (`2130706433`, `0x7f000001`,
`017700000001`, `127.1`), resolves the host and refuses if ANY resolved address is in a blocked
range. It returns the addresses it checked; the sender connects to one of those (not to a fresh
resolution), so a DNS answer that changes between check and connect (rebinding) cannot redirect
the request. `check_url` runs at creation/update (422 naming the reason) and again at send time.
"""

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
RESOLVE_TIMEOUT_SECONDS = 3.0

# Order matters only for the reason reported; any match refuses.
_BLOCKED_NETWORKS: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str]] = [
    (ipaddress.ip_network(cidr), reason)
    for cidr, reason in [
        ("0.0.0.0/8", "unspecified ('this network') address"),
        ("127.0.0.0/8", "loopback address"),
        ("10.0.0.0/8", "private address (RFC 1918)"),
        ("172.16.0.0/12", "private address (RFC 1918)"),
        ("192.168.0.0/16", "private address (RFC 1918)"),
        ("100.64.0.0/10", "shared address space (RFC 6598, carrier-grade NAT)"),
        ("169.254.0.0/16", "link-local address (includes cloud metadata endpoints)"),
        ("192.0.0.0/24", "IETF protocol assignment"),
        ("198.18.0.0/15", "benchmarking address"),
        ("224.0.0.0/4", "multicast address"),
        ("240.0.0.0/4", "reserved address"),
        ("::/128", "unspecified address"),
        ("::1/128", "loopback address"),
        ("::ffff:0:0/96", "IPv4-mapped IPv6 address"),
        ("::/96", "IPv4-compatible IPv6 address"),
        # Python 3.11's ipaddress calls the following global; IANA's special-purpose registry
        # does not (or they embed an IPv4 address a translator or relay would reach, private
        # ones included): refused whatever the IPv4 part is.
        ("::ffff:0:0:0/96", "IPv4-translated IPv6 address (SIIT, embeds IPv4)"),
        ("64:ff9b::/96", "NAT64 IPv6 address (embeds IPv4)"),
        ("64:ff9b:1::/48", "NAT64 IPv6 address (embeds IPv4)"),
        ("2002::/16", "6to4 IPv6 address (embeds IPv4)"),
        ("2001::/32", "Teredo IPv6 address (embeds IPv4)"),
        ("5f00::/16", "SRv6 segment identifier (not globally reachable)"),
        ("3fff::/20", "documentation IPv6 address"),
        ("2001:db8::/32", "documentation IPv6 address"),
        ("fc00::/7", "unique-local IPv6 address"),
        ("fe80::/10", "link-local IPv6 address"),
        ("fec0::/10", "site-local IPv6 address"),
        ("ff00::/8", "multicast address"),
    ]
]
_LOOPBACK_NETWORKS = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]
# Every label numeric-looking (decimal, octal, hex, or empty hex): a name no registry can hold,
# but which inet_aton-style parsers read as an IPv4 address.
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$")


class UnsafeURLError(ValueError):
    """The URL may not be called; str(exc) is the reason, safe to show to the URL's owner."""


@dataclass(frozen=True)
class CheckedURL:
    url: httpx.URL
    host: str
    port: int
    addresses: tuple[IPAddress, ...]

    def host_header(self) -> str:
        default_port = 443 if self.url.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default_port else f"{host}:{self.port}"

    def url_for(self, address: IPAddress) -> httpx.URL:
        """The same URL with the host replaced by the checked address."""
        return self.url.copy_with(host=str(address))  # httpx brackets IPv6 literals itself


def blocked_reason(address: IPAddress, *, allow_loopback: bool = False) -> str | None:
    """Why connecting to `address` is refused, or None if it is a public unicast address."""
    if allow_loopback and any(address in network for network in _LOOPBACK_NETWORKS):
        return None
    for network, reason in _BLOCKED_NETWORKS:
        if address.version == network.version and address in network:
            return reason
    # is_reserved: IPv6 outside 2000::/3, where no unicast is allocated (Python calls most of it
    # global), and IPv4's 240.0.0.0/4.
    if not address.is_global or address.is_reserved:
        return "non-public (reserved or special-purpose) address"
    return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the system resolver returns for host (module-level so tests can swap it)."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # sockaddr[0] of an IPv6 result may carry a zone ("fe80::1%eth0"): keep the address part.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def parse_url(raw: str, *, environment: str) -> httpx.URL:
    """Syntax and scheme checks that need no network."""
    try:
        url = httpx.URL(raw)
        host = url.host  # IDNA-decoded lazily: may raise too
    except (httpx.InvalidURL, ValueError) as exc:  # UnicodeError (IDNA) is a ValueError
        raise UnsafeURLError(f"not a valid URL ({exc})") from None
    scheme = url.scheme
    if scheme == "http" and environment != "local":
        raise UnsafeURLError("http is only allowed when ENVIRONMENT=local; use https")
    if scheme not in ("http", "https"):
        raise UnsafeURLError(f"scheme {scheme!r} is not allowed; use https")
    if url.userinfo:
        raise UnsafeURLError("credentials in the URL are not allowed")
    if not host:
        raise UnsafeURLError("the URL has no host")
    if url.port is not None and not 0 < url.port < 65536:
        raise UnsafeURLError(f"port {url.port} is not allowed")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if _NUMERIC_HOST.match(host):
            raise UnsafeURLError(
                f"numeric host {host!r} is not a dotted-quad IPv4 address "
                "(decimal, octal, hex and shortened forms are refused)"
            ) from None
    return url


async def check_url(raw: str, *, environment: str, allow_loopback: bool = False) -> CheckedURL:
    """Raise UnsafeURLError naming the reason, or return the addresses the URL resolves to."""
    url = parse_url(raw, environment=environment)
    host = url.host
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = await resolve(host.rstrip("."), port)  # "localhost." is "localhost"
        except (OSError, TimeoutError, UnicodeError):
            raise UnsafeURLError(f"host {host!r} does not resolve") from None
    if not addresses:
        raise UnsafeURLError(f"host {host!r} does not resolve")
    for address in addresses:
        reason = blocked_reason(address, allow_loopback=allow_loopback)
        if reason is not None:
            hint = ""
            if environment == "local" and any(address in net for net in _LOOPBACK_NETWORKS):
                # The API and the worker each check: both need it, or runs fail at send time.
                hint = " (a local receiver: WEBHOOK_ALLOW_LOOPBACK=true, for the API and worker)"
            raise UnsafeURLError(f"host {host!r} resolves to {reason} {address}{hint}")
    return CheckedURL(url=url, host=host, port=port, addresses=tuple(dict.fromkeys(addresses)))
