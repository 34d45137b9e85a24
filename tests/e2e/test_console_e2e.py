"""The manager console over HTTPS in headless Chromium, against the running stack.

Chromium's one-shot ``--screenshot`` fires before Streamlit's websocket has delivered the
page, so the browser is driven over the DevTools protocol instead (same flags:
``--headless --no-sandbox --disable-gpu``): navigate, wait for key text, capture a PNG into
the test's tmp dir. The browser trusts exactly the stack's server key
(``--ignore-certificate-errors-spki-list``), nothing else. Skips when Chromium is absent
(``apt-get install -y chromium``).
"""
from __future__ import annotations

import base64
import hashlib
import itertools
import json
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1400,1100"]


class Browser:
    """A minimal DevTools-protocol client for one page."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self._ws = connect(ws_url, max_size=None, open_timeout=30)
        self._ids = itertools.count(1)

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self._ids)
        self._ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self._ws.recv(timeout=60))
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result", {})

    def js(self, expression: str) -> Any:
        return self.call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")

    def wait_text(self, *needles: str, timeout: float = 90) -> str:
        deadline, text = time.monotonic() + timeout, ""
        while time.monotonic() < deadline:
            text = self.js("document.body ? document.body.innerText : ''") or ""
            if all(n in text for n in needles):
                return text
            time.sleep(0.5)
        raise AssertionError(f"page never showed {needles!r}; it shows: {text[:800]!r}")

    def wait_charts(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (self.js("document.querySelectorAll('.vega-embed canvas, .vega-embed svg').length") or 0) >= count:
                return
            time.sleep(0.5)
        raise AssertionError(f"fewer than {count} charts rendered")

    def screenshot(self, path: Path) -> Path:
        time.sleep(1.0)  # let the charts finish their transitions
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"]))
        return path

    def click_text(self, selector: str, text: str) -> None:
        found = self.js(f"(() => {{ const el = [...document.querySelectorAll({json.dumps(selector)})]"
                        f".find(e => e.innerText.includes({json.dumps(text)})); if (el) el.click(); return !!el; }})()")
        assert found, f"no {selector} with text {text!r}"

    def close(self) -> None:
        self._ws.close()


def _spki_hash(cert_pem: Path) -> str:
    cert = x509.load_pem_x509_certificate(cert_pem.read_bytes())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


@pytest.fixture
def browser(stack: RunningStack, tmp_path: Path) -> Iterator[Browser]:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get update && apt-get install -y chromium)")
    profile = tmp_path / "chromium-profile"
    proc = subprocess.Popen([CHROMIUM, *FLAGS, "--remote-debugging-port=0", f"--user-data-dir={profile}",
                             f"--ignore-certificate-errors-spki-list={_spki_hash(stack.settings.tls_dir / 'server.pem')}",
                             "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        for _ in range(300):
            if port_file.exists() and port_file.read_text().strip():
                break
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
            page = next(t for t in json.load(r) if t["type"] == "page")
        b = Browser(page["webSocketDebuggerUrl"])
        b.call("Page.enable")
        yield b
        b.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _console_url(stack: RunningStack, path: str = "") -> str:
    return f"https://{stack.settings.host}:{stack.settings.console_port}/{path}"


def test_console_serves_tls13_only(stack: RunningStack) -> None:
    host, port = stack.settings.host, stack.settings.console_port
    ctx = ssl.create_default_context(cafile=str(stack.ca_cert))
    with socket.create_connection((host, port)) as raw, ctx.wrap_socket(raw, server_hostname=host) as tls:
        assert tls.version() == "TLSv1.3"
    old = ssl.create_default_context(cafile=str(stack.ca_cert))
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises(ssl.SSLError), socket.create_connection((host, port)) as raw:
        old.wrap_socket(raw, server_hostname=host)


def test_console_pages_in_chromium(stack: RunningStack, browser: Browser, tmp_path: Path) -> None:
    # Some live data: two admissions through the API, as registration would make them.
    headers = {"Authorization": f"Bearer {stack.token(user='registration-1')}"}
    with httpx.Client(base_url=stack.api_url, verify=ssl.create_default_context(cafile=str(stack.ca_cert))) as api:
        for _ in range(2):
            body = {"patient": {"identifier": f"MRN-E2E-{uuid.uuid4().hex[:8]}", "given": "Meera",
                                "family": "Consolewala", "birth_date": "1980-01-02", "gender": "female"},
                    "ward": "medical", "reason": "observation", "consent": True}
            assert api.post("/api/v1/admissions", json=body, headers=headers).status_code in (200, 201, 202)
    shots = []
    browser.call("Page.navigate", url=_console_url(stack))
    text = browser.wait_text("Hospital now", "Beds occupied", "Waiting in the ED", "manager-1")
    assert "Consolewala" not in text and "Meera" not in text
    browser.wait_charts(3)  # occupancy, ED queue, stages (+ overdue tasks when any)
    shots.append(browser.screenshot(tmp_path / "console-hospital-now.png"))

    browser.call("Page.navigate", url=_console_url(stack, "forecast"))
    browser.wait_text("Forecast", "Expected arrivals", "ED capacity / hour", "Staffing per shift")
    browser.wait_charts(2)
    shots.append(browser.screenshot(tmp_path / "console-forecast.png"))

    browser.call("Page.navigate", url=_console_url(stack, "journeys"))
    text = browser.wait_text("Journeys found", "Stage", "Ward", "Acuity")
    assert "Consolewala" not in text
    shots.append(browser.screenshot(tmp_path / "console-journeys.png"))

    browser.call("Page.navigate", url=_console_url(stack, "pharmacy_imaging"))
    browser.wait_text("Pharmacy and imaging", "Doses due", "Reports awaiting", "Pharmacy", "Imaging")
    # a fresh stack may have no orders yet: each of the four pictures is a chart or its empty-state note
    pictures = ("document.querySelectorAll('.vega-embed').length + "
                "(document.body.innerText.match(/No (medication order|imaging order|report issued)/g) || []).length")
    for _ in range(120):
        if (browser.js(pictures) or 0) >= 4:
            break
        time.sleep(0.5)
    assert browser.js(pictures) >= 4
    shots.append(browser.screenshot(tmp_path / "console-pharmacy-imaging.png"))

    # The compliance officer signs in from the sidebar and gets the Compliance page.
    browser.call("Page.navigate", url=_console_url(stack))
    browser.wait_text("Signed in as", "compliance-1")
    browser.click_text("label", "compliance-1")
    browser.wait_text("Compliance")
    browser.click_text("a", "Compliance")
    browser.wait_text("Break-glass reviews pending", "Ledger verified", "Users flagged")
    shots.append(browser.screenshot(tmp_path / "console-compliance.png"))
    for shot in shots:
        assert shot.stat().st_size > 10_000, f"{shot.name} looks empty"
    print("console screenshots:", *map(str, shots))


def test_surge_schedule_runs_and_alerts_managers(stack: RunningStack) -> None:
    """The worker created the hourly Schedule; triggering it runs SurgeWatch, whose alert reaches /ops/alerts."""
    import asyncio

    from deploy.wiring import connect_temporal
    from workflows.surge_contracts import SCHEDULE_ID, SurgeResult

    async def trigger() -> SurgeResult:
        client = await connect_temporal(stack.settings)
        handle = client.get_schedule_handle(SCHEDULE_ID)
        before = len((await handle.describe()).info.recent_actions)
        await handle.trigger()
        for _ in range(600):
            desc = await handle.describe()
            if len(desc.info.recent_actions) > before:
                run = desc.info.recent_actions[-1].action
                return await client.get_workflow_handle(run.workflow_id, run_id=run.first_execution_run_id,
                                                        result_type=SurgeResult).result()
            await asyncio.sleep(0.1)
        raise AssertionError("the schedule did not start SurgeWatch")

    result = asyncio.run(trigger())
    headers = {"Authorization": f"Bearer {stack.token(user='manager-1')}"}
    with httpx.Client(base_url=stack.api_url, verify=ssl.create_default_context(cafile=str(stack.ca_cert))) as api:
        alerts = api.get("/api/v1/ops/alerts", headers=headers).json()
    if result.alert_task_id is None:  # a calm forecast: nothing may be open for the ward
        assert not [a for a in alerts if a["status"] == "open" and a["ward"] == result.assessment.ward]
    else:
        opened = next(a for a in alerts if a["id"] == result.alert_task_id)
        assert opened["status"] == "open" and opened["details"]["hours_over"] == len(result.assessment.hours_over)
