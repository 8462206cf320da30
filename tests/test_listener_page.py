"""The listener's page and what it asks for, on real aiohttp against a stand-in ingress: the
files it is made of, the feed of deliveries and rejections, and the side-by-side comparison
(the same bytes, different bytes, an unknown invocation, an ingress that is down)."""

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from listener.app import create_app
from listener.pull import invocation_id_of
from listener.settings import load_settings
from tests.test_listener import (
    RESULT_BODY,
    Client,
    MakeClient,
    deliver,
    new_webhook_id,
    settings_for,
)

ServerFactory = Callable[[web.Application], Awaitable[TestServer]]


def stand_in_ingress(answers: dict[str, tuple[int, bytes]]) -> web.Application:
    """Answers GET /restate/invocation/{id}/attach from `answers`, by invocation id."""

    async def attach(request: web.Request) -> web.Response:
        status, body = answers.get(request.match_info["id"], (404, b'{"message":"not found"}'))
        return web.Response(status=status, body=body, content_type="application/json")

    app = web.Application()
    app.router.add_get("/restate/invocation/{id}/attach", attach)
    return app


async def page_client(
    aiohttp_client: MakeClient, tmp_path: Path, ingress: str = "http://127.0.0.1:9"
) -> Client:
    return await aiohttp_client(create_app(settings_for(tmp_path, ingress=ingress)))


async def side_by_side(client: Client, webhook_id: str) -> dict[str, Any]:
    response = await client.get(f"/page/side-by-side/{webhook_id}")
    assert response.status == 200
    return dict(await response.json())


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/", "text/html", '<script src="/page/page.js" defer></script>'),
        ("/page/page.js", "text/javascript", "textContent"),
        ("/page/page.css", "text/css", ".comparison.good"),
    ],
)
async def test_the_page_is_served_from_the_package_with_a_strict_policy(
    aiohttp_client: MakeClient, tmp_path: Path, path: str, content_type: str, marker: str
) -> None:
    client = await page_client(aiohttp_client, tmp_path)
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == content_type
    assert marker in await response.text()
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_the_script_never_writes_html() -> None:
    script = (Path(__file__).parents[1] / "listener" / "page.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


async def test_the_feed_lists_deliveries_newest_first_and_rejections(
    aiohttp_client: MakeClient, tmp_path: Path
) -> None:
    client = await page_client(aiohttp_client, tmp_path)
    first, second = new_webhook_id(), new_webhook_id()
    assert (await deliver(client, webhook_id=first)).status == 200
    assert (await deliver(client, webhook_id=second)).status == 200
    forged = await deliver(client, webhook_id="msg_forged", secret="whsec_" + "QUJD" * 8)
    assert forged.status == 401

    feed = await (await client.get("/page/feed")).json()
    assert [d["webhook_id"] for d in feed["deliveries"]] == [second, first]
    assert all(d["verdict"] == "verified" and "body" not in d for d in feed["deliveries"])
    assert feed["deliveries"][0]["state"] == "SUCCEEDED"
    (rejection,) = feed["rejections"]
    assert rejection["webhook_id"] == "msg_forged"
    assert rejection["reason"] == "no matching signature"
    assert feed["ingress"] == "http://127.0.0.1:9"


async def test_pushed_and_pulled_bytes_are_compared(
    aiohttp_client: MakeClient, aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    same, respaced = new_webhook_id(), new_webhook_id()
    ingress = await aiohttp_server(
        stand_in_ingress(
            {
                invocation_id_of(same) or "": (200, RESULT_BODY),
                # The same JSON value with one space less: not the same bytes.
                invocation_id_of(respaced) or "": (200, RESULT_BODY.replace(b",  ", b", ")),
            }
        )
    )
    client = await page_client(aiohttp_client, tmp_path, str(ingress.make_url("")))
    await deliver(client, webhook_id=same)
    await deliver(client, webhook_id=respaced)

    answer = await side_by_side(client, same)
    assert answer["equal"] is True and answer["verdict"] == "verified"
    assert answer["pushed"] == answer["pulled"] == RESULT_BODY.decode()
    assert answer["pushed_bytes"] == answer["pulled_bytes"] == len(RESULT_BODY)
    assert answer["pull_url"].endswith(f"/restate/invocation/{invocation_id_of(same)}/attach")

    different = await side_by_side(client, respaced)
    assert different["equal"] is False
    assert different["pulled_bytes"] == len(RESULT_BODY) - 1


async def test_an_unknown_invocation_is_final_and_a_down_ingress_is_retried(
    aiohttp_client: MakeClient, aiohttp_server: ServerFactory, tmp_path: Path
) -> None:
    ingress = await aiohttp_server(stand_in_ingress({}))
    client = await page_client(aiohttp_client, tmp_path, str(ingress.make_url("")))
    webhook_id = new_webhook_id()
    await deliver(client, webhook_id=webhook_id)
    unknown = await side_by_side(client, webhook_id)
    assert unknown["equal"] is None and unknown["final"] is True
    assert unknown["pull_status"] == 404
    assert unknown["pull_problem"].startswith("the ingress knows no invocation ")

    down = await page_client(aiohttp_client, tmp_path / "down")  # nothing listens on port 9
    await deliver(down, webhook_id=webhook_id)
    answer = await side_by_side(down, webhook_id)
    assert answer["equal"] is None and answer["final"] is False
    assert "the ingress is unreachable" in answer["pull_problem"]


async def test_a_webhook_id_that_names_no_invocation_is_not_pulled(
    aiohttp_client: MakeClient, tmp_path: Path
) -> None:
    client = await page_client(aiohttp_client, tmp_path)
    await deliver(client, webhook_id="evt_from_elsewhere")
    answer = await side_by_side(client, "evt_from_elsewhere")
    assert answer["equal"] is None and answer["final"] is True and answer["pull_url"] is None
    missing = await client.get(f"/page/side-by-side/{new_webhook_id()}")
    assert missing.status == 404


def test_the_ingress_comes_from_the_flag_or_restate_ingress_url(tmp_path: Path) -> None:
    settings, _ = load_settings([], {"RESTATE_INGRESS_URL": "http://restate.test:8080"})
    assert settings.ingress == "http://restate.test:8080"
    flagged, _ = load_settings(["--ingress", "https://elsewhere.test"], {})
    assert flagged.ingress == "https://elsewhere.test"
    with pytest.raises(SystemExit):
        load_settings(["--ingress", "restate.test:8080"], {})


def test_the_pull_finds_the_run_of_a_direct_promise_by_its_webhook_id() -> None:
    # The listener's own copy of the service's rule (it does not import the service).
    from service.models import webhook_id_for

    assert invocation_id_of(webhook_id_for("inv_1abc")) == "inv_1abc"
    assert invocation_id_of(webhook_id_for("inv_1abc", "order-7~x")) == "inv_1abc"
    assert invocation_id_of("order-7") is None
