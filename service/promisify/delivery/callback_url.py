"""Is a callback URL safe to POST to? Checked when submitted and again when connecting.

One reading of the URL serves every check and the connection itself: yarl's, the parser
aiohttp sends with. Python's `urlsplit` reads 127.0.0.1 written in full-width digits as a
name; yarl (and so aiohttp) as the IP literal 127.0.0.1. Checking one reading and connecting
to another is how an SSRF check is bypassed, so `check_static` returns the host exactly as
aiohttp will resolve it, and the webhook sender checks each address again on the socket it
connects.

The address check refuses the ranges listed in REFUSED_RANGES, stated here rather than taken
from `ipaddress.is_global`, whose answers differ between Python versions.
"""

import ipaddress
import re
import socket
from collections.abc import Callable
from typing import NamedTuple

import yarl

MAX_URL_LENGTH = 2048
ALLOWED_SCHEMES = ("http", "https")
# RFC 1035: a label is 1 to 63 octets, a name at most 253 characters in its dotted form.
MAX_LABEL_LENGTH = 63
MAX_HOST_LENGTH = 253
# What a DNS name may hold once IDNA-encoded: letters, digits, hyphen (and the underscore
# some real names carry). Anything else (%, spaces, ...) is no name any resolver should see.
_HOST_LABEL = re.compile(r"^[A-Za-z0-9_-]+$")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]


class CallbackUrlRefused(ValueError):
    """The URL must not be called; the message says why."""


class CallbackTarget(NamedTuple):
    """Where a callback URL points: the host as aiohttp resolves it, and the port."""

    host: str
    port: int


def parse_url(url: str) -> yarl.URL:
    """The URL as aiohttp will read it; every parse failure becomes a refusal."""
    if len(url) > MAX_URL_LENGTH:
        raise CallbackUrlRefused(f"is longer than {MAX_URL_LENGTH} characters")
    try:
        # IDNA failures (an empty label, a label too long for IDNA) raise UnicodeError here.
        parsed = yarl.URL(url)
        host = parsed.raw_host
        port = parsed.port
        _ = parsed.host  # aiohttp decodes the host too (Host header, TLS server name)
    except (ValueError, UnicodeError, TypeError) as error:
        raise CallbackUrlRefused(f"is not a valid URL ({error})") from None
    if parsed.scheme not in ALLOWED_SCHEMES:
        raise CallbackUrlRefused("must use http or https")
    if parsed.raw_user is not None or parsed.raw_password is not None:
        raise CallbackUrlRefused("must not contain a user name or password")
    if not host:
        raise CallbackUrlRefused("has no host")
    if port is None or not 1 <= port <= 65535:
        raise CallbackUrlRefused("has no valid port (1 to 65535)")
    return parsed


def check_static(url: str) -> CallbackTarget:
    """Scheme, userinfo, length, port and the host's form; no network.

    Returns the host exactly as aiohttp will hand it to its resolver (IDNA-encoded, an IPv6
    literal without brackets), so that resolving it here checks what will be connected to.
    """
    parsed = parse_url(url)
    host, port = str(parsed.raw_host), int(parsed.port or 0)
    if "%" in host and ":" in host:
        raise CallbackUrlRefused("must not name an IPv6 zone (an interface of this machine)")
    if _looks_like_ip_literal(host):
        literal = literal_address(host)
        if literal is None:
            # aiohttp treats such a host as an address, not a name; only the standard
            # spelling means the same thing to every reader (127.1 and 1.2.3.4. do not).
            raise CallbackUrlRefused(
                f"host {host!r} is not an IP address in its standard form; "
                "write IPv4 as four decimal numbers, or use a name"
            )
        return CallbackTarget(literal, port)
    _check_host_name(host)
    return CallbackTarget(host, port)


def _looks_like_ip_literal(host: str) -> bool:
    # aiohttp's own test: a colon, or nothing but digits and dots, means an IP literal.
    return ":" in host or host.replace(".", "").isdigit()


def _check_host_name(host: str) -> None:
    name = host.removesuffix(".")  # one trailing dot (a fully qualified name) is fine
    if len(name) > MAX_HOST_LENGTH:
        raise CallbackUrlRefused(f"host is longer than {MAX_HOST_LENGTH} characters")
    for label in name.split("."):
        if not label:
            raise CallbackUrlRefused(f"host {host!r} has an empty label")
        if len(label) > MAX_LABEL_LENGTH:
            raise CallbackUrlRefused(f"host has a label longer than {MAX_LABEL_LENGTH} characters")
        if not _HOST_LABEL.match(label):
            raise CallbackUrlRefused(f"host {host!r} is not a valid host name")


class RefusedRange(NamedTuple):
    network: Network
    what: str
    always: bool = False  # refused even where the operator allows private networks


def _ranges(always: bool, *rows: tuple[str, str]) -> list[RefusedRange]:
    return [RefusedRange(ipaddress.ip_network(cidr), what, always) for cidr, what in rows]


# Checked in order; the first match names the refusal. Sources: the IANA IPv4 and IPv6
# Special-Purpose Address Registries (RFC 6890 and its updates) and the cloud providers' docs.
REFUSED_RANGES: list[RefusedRange] = [
    # Instance metadata and credential endpoints: refused always, private networks or not.
    *_ranges(
        True,
        ("169.254.169.254/32", "a cloud metadata address (AWS, GCP, Azure, OpenStack, ...)"),
        ("fd00:ec2::254/128", "a cloud metadata address (AWS IMDS over IPv6)"),
        ("169.254.170.2/32", "a cloud metadata address (AWS ECS task credentials)"),
        ("169.254.170.23/32", "a cloud metadata address (AWS EKS Pod Identity)"),
        ("fd00:ec2::23/128", "a cloud metadata address (AWS EKS Pod Identity over IPv6)"),
        ("100.100.100.200/32", "a cloud metadata address (Alibaba Cloud)"),
        ("192.0.0.192/32", "a cloud metadata address (Oracle Cloud)"),
        ("168.63.129.16/32", "a cloud metadata address (Azure WireServer)"),
    ),
    # IPv4 special-purpose ranges.
    *_ranges(
        False,
        ("0.0.0.0/8", "an unspecified ('this network') address"),
        ("10.0.0.0/8", "a private address (RFC 1918)"),
        ("100.64.0.0/10", "a carrier-grade NAT address (RFC 6598)"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local address"),
        ("172.16.0.0/12", "a private address (RFC 1918)"),
        ("192.0.0.0/24", "an IETF protocol assignment (RFC 6890)"),
        ("192.0.2.0/24", "a documentation address (TEST-NET-1)"),
        ("192.88.99.0/24", "a deprecated 6to4 relay address (RFC 7526)"),
        ("192.168.0.0/16", "a private address (RFC 1918)"),
        ("198.18.0.0/15", "a benchmarking address (RFC 2544)"),
        ("198.51.100.0/24", "a documentation address (TEST-NET-2)"),
        ("203.0.113.0/24", "a documentation address (TEST-NET-3)"),
        ("224.0.0.0/4", "a multicast address"),
        ("255.255.255.255/32", "a broadcast address"),
        ("240.0.0.0/4", "a reserved address (240.0.0.0/4)"),
    ),
    # IPv6 special-purpose ranges.
    *_ranges(
        False,
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("::ffff:0:0/96", "an IPv4-mapped IPv6 address"),
        ("::/96", "an IPv4-compatible IPv6 address (deprecated)"),
        ("::ffff:0:0:0/96", "an IPv4-translated IPv6 address"),
        ("64:ff9b:1::/48", "a local-use NAT64 address (RFC 8215)"),
        ("100::/64", "a discard-only address (RFC 6666)"),
        ("2001::/23", "an IETF protocol assignment (Teredo, ORCHID, benchmarking, ...)"),
        ("2001:db8::/32", "a documentation address"),
        ("3fff::/20", "a documentation address (RFC 9637)"),
        ("5f00::/16", "an SRv6 SID address (RFC 9602)"),
        ("fc00::/7", "a unique local (private) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a site-local address (deprecated)"),
        ("ff00::/8", "a multicast address"),
    ),
]
# IPv6 outside 2000::/3 is not global unicast (bar the NAT64 prefix, whose IPv4 decides).
IPV6_GLOBAL_UNICAST = ipaddress.ip_network("2000::/3")
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: mapped, compatible, translated, 6to4, NAT64."""
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        return ip.ipv4_mapped
    if ip.sixtofour is not None:  # 2002:aabb:ccdd::/48
        return ip.sixtofour
    high = int(ip) >> 32
    # NAT64 64:ff9b::/96, compatible ::/96 and translated ::ffff:0:0:0/96: the low 32 bits.
    if ip in NAT64_WELL_KNOWN or high == 0xFFFF0000 or (high == 0 and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _match(ip: IPAddress) -> RefusedRange | None:
    for refused in REFUSED_RANGES:
        if ip.version == refused.network.version and ip in refused.network:
            return refused
    if isinstance(ip, ipaddress.IPv6Address) and (
        ip not in IPV6_GLOBAL_UNICAST and ip not in NAT64_WELL_KNOWN
    ):
        return RefusedRange(IPV6_GLOBAL_UNICAST, "a reserved address (outside 2000::/3)")
    return None


def refusal_for_address(address: str, *, allow_private: bool = False) -> str | None:
    """Why this address must not be called, or None if it may be."""
    try:
        ip: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"resolves to {address!r}, which is not an IP address"
    # An IPv6 address that carries an IPv4 one is judged by both; the IPv4 one first.
    inner = embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    for candidate in (inner, ip):
        refused = _match(candidate) if candidate is not None else None
        if refused is None or (allow_private and not refused.always):
            continue
        if candidate == ip:
            return f"resolves to {ip}, {refused.what}"
        return f"resolves to {ip}, which carries {candidate}, {refused.what}"
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


def resolve_checked(
    target: CallbackTarget, *, allow_private: bool, resolve: Resolver = resolve_host
) -> list[str]:
    """The target's addresses, every one allowed; any failure to resolve is a refusal."""
    literal = literal_address(target.host)
    if literal is not None:
        addresses = [literal]  # aiohttp connects to a literal without resolving it
    else:
        try:
            addresses = resolve(target.host, target.port)
        except OSError:
            raise CallbackUrlRefused(f"host {target.host!r} does not resolve") from None
        except Exception as error:
            # The resolver refused the name itself (a UnicodeError from IDNA, say): the
            # name is unusable, and that is the caller's answer, not a step to retry.
            raise CallbackUrlRefused(
                f"host {target.host!r} cannot be resolved ({type(error).__name__})"
            ) from None
        if not addresses:
            raise CallbackUrlRefused(f"host {target.host!r} does not resolve")
    check_addresses(addresses, allow_private=allow_private)
    return addresses


def must_resolve(url: str | None) -> bool:
    """Whether checking this callback_url asks the resolver, which blocks: not for an IP
    address, nor for a URL its form refuses."""
    if not url:
        return False
    try:
        return literal_address(check_static(url).host) is None
    except CallbackUrlRefused:
        return False


def check_callback_url(url: str, *, allow_private: bool, resolve: Resolver = resolve_host) -> None:
    """Raise CallbackUrlRefused unless the URL may be called; never raises anything else."""
    resolve_checked(check_static(url), allow_private=allow_private, resolve=resolve)
