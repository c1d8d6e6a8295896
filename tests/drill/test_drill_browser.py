"""End to end in a real browser: ``twin drill`` as a subprocess, Playwright driving Debian's Chromium.

Skips ahead to the next warning or inject, sees the script's red warning put to the
trainee as advice, switches to 应下尽下 through the page (with its confirmation dialog), sees
the mobilised head count and the redeployed grid staff on the page, ends the drill and finds
the action in the after-action report. Every process it starts is stopped in ``finally``.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHROMIUM = os.environ.get("GRIDTWIN_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(240)]


def _twin_command() -> list[str]:
    exe = Path(sys.executable).with_name("twin")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-c", "from twin.cli import main; main()"]


def _wait_for_url(proc: subprocess.Popen[bytes], log: Path, deadline: float) -> str:
    """The console's URL from the process's output (a file, so that nothing blocks on a full pipe)."""
    while time.monotonic() < deadline:
        m = re.search(r"http://127\.0\.0\.1:\d+/", log.read_text(encoding="utf-8", errors="replace"))
        if m:
            return m.group(0)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"twin drill printed no URL (exit {proc.poll()}):\n{log.read_text(errors='replace')}")


def _int(page: object, selector: str) -> int:
    return int(page.inner_text(selector).strip())  # type: ignore[attr-defined]


def test_switch_to_emergency_in_the_browser(tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (CI installs Debian's chromium)")
    from playwright.sync_api import expect, sync_playwright

    out = tmp_path / "drill"
    cmd = [
        *_twin_command(),
        "drill",
        str(ROOT / "scenarios" / "flood.toml"),
        "--script",
        str(HERE / "short_script.toml"),
        "--speed",
        "1",  # slow until the trainer pauses; sped up once switched (see below)
        "--port",
        "0",
        "--no-browser",
        "--out",
        str(out),
        "--team",
        "blue",
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
    log = tmp_path / "twin-drill.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=tmp_path)
    try:
        url = _wait_for_url(proc, log, time.monotonic() + 90)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                errors: list[str] = []
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(url)
                expect(page.locator("#mode")).to_have_text(re.compile("normal"), timeout=15_000)
                # the trainer pauses first: what the page shows next cannot depend on how fast this
                # machine is (at 1 min/s the storm's own advisories are 2 wall minutes away)
                page.click("#btn-pause")
                expect(page.locator("#clock")).to_contain_text("paused")
                expect(page.locator("#g-S01-C01-G01")).to_be_visible()
                assert _int(page, "#kpi-onsite") == 0 and _int(page, "#kpi-enroute") == 0
                # the trainer skips ahead to the next warning or inject (the button says what comes next)
                expect(page.locator("#kpi-next")).not_to_have_text("—", timeout=15_000)
                page.click("#btn-skip")
                expect(page.locator("#log")).to_contain_text("skipped ahead to", timeout=10_000)
                # the script issues a red flood warning; it is put to the trainee as advice, not switched
                expect(page.locator("#log")).to_contain_text("red flood warning drill-red issued at S01-C02", timeout=30_000)
                expect(page.locator("#advisory")).to_contain_text("drill-red", timeout=30_000)
                expect(page.locator("#advisory")).to_contain_text("全员下沉")
                expect(page.locator("#mode")).to_have_text(re.compile("normal"))
                assert _int(page, "#kpi-redeployed") == 0
                # the switch asks for confirmation first; cancelling changes nothing
                page.click("#mode-emergency")
                expect(page.locator("#confirm")).to_be_visible()
                page.click("#confirm-no")
                expect(page.locator("#mode")).to_have_text(re.compile("normal"))
                page.click("#mode-emergency")
                expect(page.locator("#confirm-title")).to_contain_text("应下尽下")
                page.click("#confirm-yes")
                expect(page.locator("#mode")).to_have_text(re.compile("应下尽下"), timeout=10_000)
                # on at 10 simulated minutes a second
                page.select_option("#speed", "10")
                expect(page.locator("#log")).to_contain_text("speed 1 → 10 min/s")
                page.click("#btn-resume")
                # the mobilised head count rises: first on the way, then on site
                page.wait_for_function(
                    "parseInt(document.getElementById('kpi-enroute').textContent) > 0", timeout=15_000
                )
                page.wait_for_function(
                    "parseInt(document.getElementById('kpi-onsite').textContent) > 0", timeout=60_000
                )
                on_site = _int(page, "#kpi-onsite")
                assert on_site > 0
                # the hazard area's grid workers and community staff are on emergency duties
                assert _int(page, "#kpi-redeployed") > 0
                # the live chart's labels sit above its lines (the highest line point is at the maximum)
                gap = page.evaluate(
                    """() => {
                      const svg = document.getElementById('spark');
                      const ys = [...svg.querySelectorAll('polyline')].flatMap(
                        p => p.getAttribute('points').split(' ').map(xy => parseFloat(xy.split(',')[1])));
                      const labelBottom = Math.max(...[...svg.querySelectorAll('text')].map(t => t.getBBox().y + t.getBBox().height));
                      return Math.min(...ys) - labelBottom;
                    }"""
                )
                assert gap > 0, gap
                expect(page.locator("#log")).to_contain_text("switch to 应下尽下")
                # the other controls work from the page too: a place from the map, a team, an incident, a marker
                page.click("#g-S01-C03-G02")
                expect(page.locator("#place")).to_have_value("S01-C03-G02")
                page.fill("#team-size", "12")
                page.click("#btn-team")
                expect(page.locator("#msg")).to_contain_text("people on their way to S01-C03")
                page.click("#btn-inject")
                expect(page.locator("#msg")).to_contain_text("Injected 1 case(s) at S01-C03-G02")
                page.fill("#marker-note", "underpass flooded")
                page.click("#btn-marker")
                expect(page.locator("#log")).to_contain_text("S01-C03-G02: underpass flooded")
                page.screenshot(path=str(tmp_path / "drill-console.png"), full_page=True)
                page.once("dialog", lambda d: d.accept())
                page.click("#btn-end")
                expect(page.locator("#report-link")).to_be_visible(timeout=90_000)
                page.goto(url + "report")
                expect(page.locator("h1")).to_contain_text("After-action report")
                expect(page.locator("body")).to_contain_text("switch mode to emergency")
                expect(page.locator("body")).to_contain_text("injected by the trainee")
                expect(page.locator("body")).not_to_contain_text("e+0")
                page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
                assert errors == []
            finally:
                browser.close()
        report = (out / "report.html").read_text(encoding="utf-8")
        assert "switch mode to emergency" in report and "应下尽下" in report and "team blue" in report
        actions = [json.loads(x) for x in (out / "actions.jsonl").read_text(encoding="utf-8").splitlines()]
        modes = [a for a in actions if a["kind"] == "mode"]
        assert len(modes) == 1 and modes[0]["ok"] and modes[0]["source"] == "trainer"
        kinds = [a["kind"] for a in actions if a["source"] == "trainer"]
        assert kinds == ["start", "pause", "skip", "mode", "speed", "resume", "team", "incident", "marker", "end"]
        assert any(a["kind"] == "warning" and a["source"] == "script" and a["params"]["id"] == "drill-red" for a in actions)
        assert modes[0]["params"]["to"] == "emergency" and modes[0]["sim_min"] >= 73 * 60
        assert any(a["kind"] == "end" for a in actions)
        outcome = json.loads((out / "outcome.json").read_text(encoding="utf-8"))
        # the outcome's peak comes from every arrival, so no count the live page showed exceeds it
        assert outcome["drill"]["peak_on_site"] >= on_site > 0 == outcome["baseline"]["peak_on_site"]
    finally:
        print(f"--- twin drill output ---\n{log.read_text(errors='replace')}")  # shown by pytest on failure
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
    assert proc.returncode == 0, log.read_text(errors="replace")
