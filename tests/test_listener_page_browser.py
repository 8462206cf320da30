"""The listener's page in a real headless Chromium, against the real stack: a query submitted
with a callback_url appears on the open page without a reload, verified, and equal to the
same promise pulled by key; a forged webhook appears as rejected; the result's HTML is text.

The browser is Debian's chromium (`make setup` installs it as root where apt-get exists)
driven by playwright-core from node_modules (tests/page_browser.mjs); never a downloaded one.
"""

import base64
import json
import os
import queue
import shutil
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pytest
import requests

from infra.local.stack import ROOT, LocalStack
from tests.stack_support import attach, send, tagged

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
DRIVER = Path(__file__).with_name("page_browser.mjs")
PLAYWRIGHT = ROOT / "node_modules" / "playwright-core"
# What the page is given to show: markup that must stay text.
HTML_IN_RESULT = "<b id=injected>not bold</b>"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not (Path(CHROMIUM).exists() and PLAYWRIGHT.exists() and shutil.which("node")),
        reason=f"needs {CHROMIUM} (apt-get install chromium; `make setup` does it as root), "
        "node and playwright-core (npm ci)",
    ),
]


class Browser:
    """tests/page_browser.mjs in a child process: one page, opened once, asked by commands."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self._lines: queue.Queue[str] = queue.Queue()
        assert process.stdout is not None
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stdout: IO[str]) -> None:
        for line in stdout:
            self._lines.put(line)

    def answer(self, timeout_s: float) -> dict[str, Any]:
        try:
            line = self._lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"the browser said nothing within {timeout_s:g} s") from None
        return dict(json.loads(line))

    def wait_for(
        self, selector: str, has_text: str, screenshot: Path | None = None, timeout_s: float = 90
    ) -> dict[str, Any]:
        """What a person sees once `selector` shows `has_text`; fails with the page's text."""
        command = {
            "selector": selector,
            "has_text": has_text,
            "timeout_ms": int(timeout_s * 1000),
            "screenshot": None if screenshot is None else str(screenshot),
        }
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(command) + "\n")
        self._process.stdin.flush()
        seen = self.answer(timeout_s + 30)
        assert "error" not in seen, f"{seen['error']}\nThe page showed:\n{seen['page']}"
        return seen


@pytest.fixture
def browser(stack: LocalStack, tmp_path: Path) -> Iterator[Browser]:
    profile = tmp_path / "chromium-profile"  # a fresh --user-data-dir
    process = subprocess.Popen(
        ["node", str(DRIVER), f"{stack.listener_url}/", str(profile)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(tmp_path / "browser.log").open("w"),
        text=True,
        cwd=ROOT,
        env={**os.environ, "CHROMIUM": CHROMIUM},
    )
    browser = Browser(process)
    try:
        # Chromium's first start on 2 busy cores can take a while.
        assert browser.answer(120) == {"ready": True}, (tmp_path / "browser.log").read_text()
        yield browser
    finally:
        if process.stdin is not None:
            process.stdin.close()  # the driver closes Chromium and exits
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_a_push_appears_on_the_open_page_verified_and_equal_to_the_pull(
    stack: LocalStack, browser: Browser, tmp_path: Path
) -> None:
    # The page is open and polling before the query exists.
    browser.wait_for("#status.live", "watching")
    sql = tagged(
        f'SELECT \'{HTML_IN_RESULT}\' AS shown, sum("value") AS answer FROM "demo_db"."table"'
    )
    key = f"page-{uuid.uuid4()}"
    body = {"query": sql, "callback_url": f"{stack.listener_url}/callback"}
    sent = send(stack, body, key)
    assert sent.status_code == 202, sent.text
    webhook_id = f"msg_{sent.json()['invocationId']}"

    screenshot = tmp_path / "page.png"
    card = f'article[data-webhook-id="{webhook_id}"]'
    seen = browser.wait_for(card, "pushed == pulled", screenshot)

    pulled = attach(stack, key).content  # what the long-polling client gets for the key
    text = seen["text"]
    assert f"pushed == pulled: the same {len(pulled)} bytes" in text
    assert "verified" in text.lower()
    assert webhook_id in text and "SUCCEEDED" in text
    # The rows, as JavaScript prints them, once a side: the markup shown as text.
    assert text.count(f'[["{HTML_IN_RESULT}",42]]') == 2
    assert seen["injected"] == 0, "the result's markup became an element"
    assert seen["navigations"] == 1, "the page was reloaded"
    assert seen["errors"] == []
    assert screenshot.stat().st_size > 10_000


def test_a_forged_webhook_appears_as_rejected(stack: LocalStack, browser: Browser) -> None:
    browser.wait_for("#status.live", "watching")
    forged_id = f"msg_forged-{uuid.uuid4()}"
    response = requests.post(
        f"{stack.listener_url}/callback",
        data=b'{"state": "SUCCEEDED"}',
        headers={
            "webhook-id": forged_id,
            "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1," + base64.b64encode(bytes(32)).decode(),
        },
        timeout=10,
    )
    assert response.status_code == 401
    seen = browser.wait_for("#rejection-list li", forged_id)
    assert "rejected" in seen["text"].lower()
    assert "no matching signature" in seen["text"]
    assert seen["navigations"] == 1
