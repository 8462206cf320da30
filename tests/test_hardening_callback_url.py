"""Hostile callback URLs (issue 11): malformed hosts, stated ranges, metadata, one reading."""

import ipaddress

import pytest
from pydantic import ValidationError

from service.models import QueryRequest, describe_request_error
from service.promisify.delivery.callback_url import (
    REFUSED_RANGES,
    CallbackUrlRefused,
    check_callback_url,
    check_static,
    refusal_for_address,
)


def public_resolver(host: str, port: int) -> list[str]:
    return ["93.184.215.14"]


def idna_failing_resolver(host: str, port: int) -> list[str]:
    # What socket.getaddrinfo does with an empty or over-long label: not an OSError.
    raise UnicodeError("encoding with 'idna' codec failed (UnicodeError: label empty or too long)")


MALFORMED_HOSTS = [
    "http://a..b/",
    "http://.example.com/",
    "http://" + "a" * 64 + ".example.com/",
    "http://" + ".".join(["a" * 60] * 5) + "/",  # 304 characters
    "http://xn--/",
    "http://xn--zz.example.com/",  # punycode that does not decode
    "http://%31%32%37.0.0.1/",
    "http://exa mple.com/",
    "http://[fe80::1%25eth0]/",
    "http://[::1/",
    "http://hooks.example.com:0/",
]


@pytest.mark.parametrize("url", MALFORMED_HOSTS)
def test_a_malformed_host_is_refused_by_form(url: str) -> None:
    with pytest.raises(CallbackUrlRefused):
        check_static(url)


@pytest.mark.parametrize("url", MALFORMED_HOSTS)
def test_a_malformed_host_is_a_request_error_naming_callback_url(url: str) -> None:
    with pytest.raises(ValidationError) as caught:
        QueryRequest.model_validate({"callback_url": url})
    assert describe_request_error(caught.value).startswith("Invalid query request. callback_url: ")


def test_a_resolver_that_raises_anything_is_a_refusal_not_a_crash() -> None:
    # Whatever the resolver raises, the verdict is a refusal (a 400), never a step to retry.
    with pytest.raises(CallbackUrlRefused, match="cannot be resolved"):
        check_callback_url(
            "http://hooks.example.com/", allow_private=False, resolve=idna_failing_resolver
        )


def test_the_host_checked_is_the_host_aiohttp_connects_to() -> None:
    # Full-width digits and an ideographic full stop: urlsplit sees a name, yarl an address.
    for spelling in ("\uff11\uff12\uff17.\uff10.\uff10.\uff11", "127\u30020\u30020\u30021"):
        assert check_static(f"http://{spelling}:9000/").host == "127.0.0.1"
        with pytest.raises(CallbackUrlRefused, match="loopback"):
            check_callback_url(f"http://{spelling}/", allow_private=False, resolve=public_resolver)
    # An enclosed letter folds to plain "localhost": resolved as such.
    assert check_static("http://\u24dbocalhost/").host == "localhost"
    # IDNA names are resolved in their ASCII form, as aiohttp resolves them.
    assert check_static("https://b\u00fccher.example/").host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("address", "what"),
    [
        ("fec0::1", "site-local"),
        ("192.0.0.8", "IETF protocol assignment"),
        ("198.18.0.1", "benchmarking"),
        ("198.19.255.254", "benchmarking"),
        ("192.0.2.1", "documentation"),
        ("198.51.100.7", "documentation"),
        ("203.0.113.9", "documentation"),
        ("2001:db8::1", "documentation"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "broadcast"),
        ("100.127.255.254", "carrier-grade NAT"),
        ("fd12:3456::1", "unique local"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
        ("0.0.0.0", "unspecified"),
        ("2001::1", "IETF protocol assignment"),  # Teredo
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        ("::ffff:10.0.0.1", "private"),
        ("::10.0.0.1", "private"),  # IPv4-compatible
        ("2002:a00:1::1", "private"),  # 6to4 of 10.0.0.1
        ("2002:7f00:1::", "loopback"),  # 6to4 of 127.0.0.1
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 of 127.0.0.1
        ("64:ff9b:1::1", "local-use NAT64"),
        ("1::1", "outside 2000::/3"),
    ],
)
def test_stated_ranges_are_refused(address: str, what: str) -> None:
    reason = refusal_for_address(address, allow_private=False)
    assert reason is not None and what in reason


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",
        "169.254.170.2",
        "169.254.170.23",
        "fd00:ec2::23",
        "fd00:ec2::254",
        "100.100.100.200",
        "192.0.0.192",
        "168.63.129.16",
        "::ffff:169.254.169.254",
        "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    ],
)
def test_metadata_addresses_are_refused_even_where_private_networks_are_allowed(
    address: str,
) -> None:
    reason = refusal_for_address(address, allow_private=True)
    assert reason is not None and "metadata" in reason


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert refusal_for_address(address, allow_private=False) is None


def test_the_refused_ranges_are_a_stated_table() -> None:
    networks = {str(refused.network) for refused in REFUSED_RANGES}
    for cidr in ("192.0.0.0/24", "fec0::/10", "100.64.0.0/10", "198.18.0.0/15", "240.0.0.0/4"):
        assert cidr in networks
    always = {str(refused.network) for refused in REFUSED_RANGES if refused.always}
    assert {"169.254.170.2/32", "169.254.170.23/32", "fd00:ec2::23/128"} <= always
    assert all(
        isinstance(r.network, ipaddress.IPv4Network | ipaddress.IPv6Network) for r in REFUSED_RANGES
    )


def test_private_addresses_are_allowed_when_the_operator_says_so() -> None:
    for address in ("127.0.0.1", "10.0.0.1", "::1", "fec0::1", "192.0.0.8"):
        assert refusal_for_address(address, allow_private=True) is None
