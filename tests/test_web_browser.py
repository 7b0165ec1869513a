"""The console in a real browser (headless Debian Chromium driven by Selenium), against the app
served by uvicorn on a real SQLite file, while real `voicebot replay` processes place calls:

- an unauthenticated visit lands on the login page; an agent cannot open the wallboard;
- a replayed audio call shows on the wallboard while it is in progress, and in the day's counts;
- a replayed (text) call that escalates appears in the queue on the wallboard and in the agent's
  console; the agent takes it and sees who it is and its transcript; a second agent then finds
  nobody to take; the agent resolves it and FCR on the wallboard moves.
Screenshots of both pages go to the test's temporary directory, or to the directory named by
VOICEBOT_SCREENSHOTS: `VOICEBOT_SCREENSHOTS=docs/img` refreshes the README's (a plain test run
leaves the working tree as it was)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from web_support import CLOCK, PASSWORD, all_general_agents_busy, csrf_of, web_settings, web_store
from secret_support import without_random_hex

ROOT = Path(__file__).resolve().parents[1]
CALLER = "+15559990000"
AT = "2026-11-23T15:00:00+00:00"  # the day CLOCK is on, in the contact centre's opening hours
FAILING = ["what's my balance", "1 2 3 4 5 6 7 8", "2 4 6 8", "purple monkey dishwasher",
           "the zebra sings at midnight", "banana telescope"]  # three no-matches: escalated


def _browser(tmp_path: Path, name: str):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", f"--user-data-dir={tmp_path / ('chrome-' + name)}"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


@pytest.fixture
def server(tmp_path):
    import uvicorn

    from voicebot.web.app import create_app

    store = web_store(tmp_path)
    all_general_agents_busy(store)
    cfg = web_settings(store, tmp_path)
    srv = uvicorn.Server(uvicorn.Config(create_app(cfg), host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", store, tmp_path / "voicebot.db"
    srv.should_exit = True
    thread.join(timeout=10)


def _login(driver, base: str, name: str, then: str) -> None:
    driver.get(base + then)
    assert "/login" in driver.current_url  # no session: the login page
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    WebDriverWait(driver, 20).until(lambda d: d.current_url.endswith(then))


def _text(driver, css: str) -> str:
    """The element's text; live updates re-render parts of the page, so a stale element is read again."""
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(50):
        try:
            return driver.find_element(By.CSS_SELECTOR, css).text
        except StaleElementReferenceException:
            time.sleep(0.1)
    return driver.find_element(By.CSS_SELECTOR, css).text


def _open(driver, url: str, css: str, tries: int = 3) -> None:
    """Open `url` and wait for `css` on it, opening it again if it does not come (a fresh clone's CI
    once found no #error-detail right after the get); fails naming the page it got instead."""
    from selenium.common.exceptions import TimeoutException

    for _ in range(tries):
        driver.get(url)
        try:
            WebDriverWait(driver, 10).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))
            return
        except TimeoutException:
            pass
    raise AssertionError(f"{url}: no {css} after {tries} tries; at {driver.current_url} "
                         f"({driver.title!r}): {driver.page_source[:300]!r}")


def _replay(db: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "voicebot", "replay", *args, "--caller-id", CALLER,
                             "--db", str(db)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_wallboard_and_agent_console_follow_replayed_calls(server, tmp_path):
    base, store, db = server
    sup, agent = _browser(tmp_path, "sup"), _browser(tmp_path, "maria")
    wait_sup, wait_agent = WebDriverWait(sup, 120), WebDriverWait(agent, 60)
    try:
        _login(agent, base, "maria", "/agent")
        _open(agent, base + "/wallboard", "#error-detail")
        assert "supervisors only" in _text(agent, "#error-detail")  # an agent may not
        agent.get(base + "/agent")
        _login(sup, base, "sup", "/wallboard")
        assert _text(sup, "#calls-today") == "0" and _text(sup, "#queue-general .waiting") == "0"

        # an audio call (the demo caller reports a lost card): seen live, then counted
        demo = sorted(str(p) for p in (ROOT / "audio" / "demo").glob("*.wav"))
        call = _replay(db, *demo, "--at", "2026-11-23T15:05:00+00:00")
        seen_live = False
        while call.poll() is None:
            seen_live = seen_live or bool(sup.find_elements(By.CSS_SELECTOR, "#live-calls tr[data-call]"))
            time.sleep(0.1)
        assert call.returncode == 0, call.stderr.read()
        assert seen_live  # in progress on the wallboard while the caller was still talking
        wait_sup.until(lambda d: _text(d, "#calls-today") == "1" and not d.find_elements(
            By.CSS_SELECTOR, "#live-calls tr[data-call]"))

        # a text call that fails three times: escalated, queued for customer service
        call = _replay(db, "--text", *FAILING, "--at", AT)
        assert call.wait(timeout=600) == 0, call.stderr.read()
        # the queue entry and the live call show before the record is finished (a page rendered between
        # the two counts the call but not yet its outcome), so the escalation is waited for too
        wait_sup.until(lambda d: _text(d, "#queue-general .waiting") == "1" and _text(d, "#calls-today") == "2"
                       and "repeated failures" in _text(d, "#escalations"))
        assert _text(sup, "#fcr") == "50%"  # the caller called again: the first call was not resolved
        wait_agent.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#waiting tr[data-call]"))
        shots = Path(os.environ.get("VOICEBOT_SCREENSHOTS") or tmp_path / "screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        sup.save_screenshot(str(shots / "wallboard.png"))

        agent.find_element(By.ID, "take-next").click()
        wait_agent.until(lambda d: d.find_elements(By.ID, "transcript") and "banana telescope" in _text(d, "#transcript"))
        assert "Alice Moreno" in _text(agent, "#identity") and "verified" in _text(agent, "#identity")
        assert "repeated failures" in _text(agent, "#reason")
        page = agent.page_source
        assert "12345678" not in page and "2468" not in without_random_hex(page)  # never a customer number or PIN
        agent.save_screenshot(str(shots / "agent.png"))
        wait_sup.until(lambda d: _text(d, "#queue-general .waiting") == "0")

        # a second agent asks for the next caller: nobody is left for them
        with httpx.Client(base_url=base, follow_redirects=True) as dev:
            token = csrf_of(dev.get("/login").text)
            dev.post("/login", data={"name": "dev", "password": PASSWORD, "csrf": token, "next": "/agent"})
            taken = dev.post("/agent/take", data={"csrf": csrf_of(dev.get("/agent").text)})
            assert "nobody waiting" in str(taken.url) or "nobody waiting" in taken.text
        [entry] = store.queue_history(CLOCK.replace(hour=0))
        assert (entry["status"], entry["agent"]) == ("taken", "maria")

        agent.find_element(By.ID, "resolved-yes").click()
        wait_agent.until(lambda d: d.find_elements(By.ID, "no-call"))
        wait_sup.until(lambda d: _text(d, "#fcr") == "100%")  # the agent's verdict moved FCR
    finally:
        sup.quit()
        agent.quit()
