"""Is a callback URL safe to POST to? Checked when submitted and again when connecting.

The static checks (scheme, userinfo, length) need no network. The address check resolves the
host and refuses anything that is not a public unicast address: loopback, private ranges,
link-local (which holds the cloud metadata endpoint 169.254.169.254), multicast, reserved.
Odd spellings of an address (2130706433, 0x7f000001, 127.1) resolve to what they mean, so
checking the resolved addresses catches them too.
"""

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
ALLOWED_SCHEMES = ("http", "https")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]


class CallbackUrlRefused(ValueError):
    """The URL must not be called; the message says why."""


def check_static(url: str) -> tuple[str, int]:
    """Scheme, userinfo, length and host; returns the host and port to resolve."""
    if len(url) > MAX_URL_LENGTH:
        raise CallbackUrlRefused(f"is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise CallbackUrlRefused(f"is not a valid URL ({error})") from None
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        raise CallbackUrlRefused("must use http or https")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise CallbackUrlRefused("must not contain a user name or password")
    if not parts.hostname:
        raise CallbackUrlRefused("has no host")
    default_port = 443 if parts.scheme.lower() == "https" else 80
    return parts.hostname, port or default_port


# Instance metadata endpoints hand out cloud credentials: refused even where private networks
# are allowed (AWS, GCP and Azure use the first; AWS's IPv6 one is the second).
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
}


def refusal_for_address(address: str, *, allow_private: bool = False) -> str | None:
    """Why this address must not be called, or None if it may be."""
    ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA_ADDRESSES:
        return f"resolves to a cloud metadata address ({ip})"
    if allow_private:
        return None
    if ip.is_loopback:
        return f"resolves to a loopback address ({ip})"
    if ip.is_link_local:
        return f"resolves to a link-local or cloud metadata address ({ip})"
    if ip.is_multicast:
        return f"resolves to a multicast address ({ip})"
    if ip.is_private or ip.is_reserved or ip.is_unspecified or not ip.is_global:
        return f"resolves to a private or reserved address ({ip})"
    return None


def literal_address(host: str) -> str | None:
    """The host itself, when it is an IP address written the standard way."""
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def resolve_host(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def check_addresses(addresses: list[str], *, allow_private: bool = False) -> None:
    for address in addresses:
        reason = refusal_for_address(address, allow_private=allow_private)
        if reason:
            raise CallbackUrlRefused(reason)


def check_callback_url(url: str, *, allow_private: bool, resolve: Resolver = resolve_host) -> None:
    """Raise CallbackUrlRefused unless the URL may be called."""
    host, port = check_static(url)
    try:
        addresses = resolve(host, port)
    except OSError:
        raise CallbackUrlRefused(f"host {host!r} does not resolve") from None
    if not addresses:
        raise CallbackUrlRefused(f"host {host!r} does not resolve")
    check_addresses(addresses, allow_private=allow_private)
