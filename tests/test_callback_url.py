"""Which callback URLs the service refuses (SSRF), when submitted and when connecting."""

import threading

import pytest
from restate import TerminalError

from service.app import athena_promise
from service.models import QueryRequest
from service.promisify.delivery.callback_url import (
    CallbackUrlRefused,
    check_callback_url,
    check_static,
    must_resolve,
)


def resolver_for(mapping: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        if host not in mapping:
            raise OSError("unknown host")
        return mapping[host]

    return resolve


PUBLIC = resolver_for({"hooks.example.com": ["93.184.215.14"]})


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost/callback",
        "http://127.0.0.1/callback",
        "http://0x7f000001/callback",  # 127.0.0.1 in hex: a name the system resolver reads
        "http://0x7f.1/callback",  # ... in mixed short form
        "http://[::1]/callback",
        "http://[::ffff:127.0.0.1]/callback",  # IPv4-mapped IPv6
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://10.0.0.5/callback",
        "http://172.16.0.1/callback",
        "http://172.31.255.254/callback",
        "http://192.168.1.1/callback",
        "http://0.0.0.0/callback",
        "http://224.0.0.1/callback",
        "http://100.64.0.1/callback",  # carrier-grade NAT, not public
    ],
)
def test_private_loopback_and_metadata_addresses_are_refused(url: str) -> None:
    with pytest.raises(CallbackUrlRefused, match="resolves to"):
        check_callback_url(url, allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "http://2130706433/callback",  # 127.0.0.1 as one decimal number
        "http://127.1/callback",  # ... in short form
        "http://127.0.0.1./callback",  # ... with a trailing dot
        "http://0177.0.0.1/callback",  # ... with an octal-looking part
    ],
)
def test_ip_addresses_in_nonstandard_spellings_are_refused_by_form(url: str) -> None:
    # aiohttp treats these as IP literals but refuses to connect to them; say so at once.
    with pytest.raises(CallbackUrlRefused, match="not an IP address in its standard form"):
        check_static(url)


def test_a_hostname_that_resolves_to_a_private_address_is_refused() -> None:
    resolve = resolver_for({"internal.example.com": ["93.184.215.14", "10.1.2.3"]})
    with pytest.raises(CallbackUrlRefused, match=r"10\.1\.2\.3, a private address"):
        check_callback_url(
            "https://internal.example.com/hook", allow_private=False, resolve=resolve
        )


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example.com/x", "must use http or https"),
        ("file:///etc/passwd", "must use http or https"),
        ("gopher://hooks.example.com/", "must use http or https"),
        ("javascript:alert(1)", "must use http or https"),
        ("https://user:secret@hooks.example.com/x", "must not contain a user name or password"),
        ("https://user@hooks.example.com/x", "must not contain a user name or password"),
        ("https:///no-host", "has no host"),
        ("https://hooks.example.com/" + "x" * 3000, "longer than 2048"),
        ("https://hooks.example.com:99999/x", "is not a valid URL"),
        ("https://nowhere.invalid/x", "does not resolve"),
    ],
)
def test_malformed_urls_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(CallbackUrlRefused, match=reason):
        check_callback_url(url, allow_private=False, resolve=PUBLIC)


def test_a_public_address_is_allowed() -> None:
    check_callback_url("https://hooks.example.com/athena", allow_private=False, resolve=PUBLIC)


def test_private_networks_can_be_allowed_but_metadata_never() -> None:
    check_callback_url("http://127.0.0.1:9000/callback", allow_private=True)
    check_callback_url("http://localhost:9000/callback", allow_private=True)
    with pytest.raises(CallbackUrlRefused, match="metadata"):
        check_callback_url("http://169.254.169.254/", allow_private=True)


@pytest.mark.parametrize(
    ("url", "resolves"),
    [
        (None, False),
        ("http://127.0.0.1:9000/callback", False),
        ("http://[::1]:9000/callback", False),
        ("ftp://hooks.example.com/", False),  # refused by its form, before any resolver
        ("https://hooks.example.com/callback", True),
    ],
)
def test_only_a_host_name_asks_the_resolver(url: str | None, resolves: bool) -> None:
    assert must_resolve(url) is resolves


async def test_the_plan_resolves_a_host_name_in_a_thread_and_an_address_on_the_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # getaddrinfo blocks: on the loop, one slow name would stall every promise in the process.
    planner, threads = athena_promise.promise.planner, []
    checked = planner.check_and_plan

    def check_and_plan(request: QueryRequest) -> object:
        threads.append(threading.get_ident())
        return checked(request)

    monkeypatch.setattr(planner, "check_and_plan", check_and_plan)
    await planner.checked_plan(QueryRequest(callback_url="http://93.184.216.34/callback"))
    with pytest.raises(TerminalError, match=r"callback_url: host 'hooks\.invalid' does not"):
        await planner.checked_plan(QueryRequest(callback_url="http://hooks.invalid/callback"))
    assert threads[0] == threading.get_ident() and threads[1] != threading.get_ident()
