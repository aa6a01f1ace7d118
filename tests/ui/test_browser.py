"""The UI in a real browser: `hippograph ui --demo` on 127.0.0.1, driven by headless Chromium.

A person's path: chat adds a memory, the Memories page shows it, delete it (with
confirmation), it is gone — from the page and from the store file; the Graph page draws the
demo user's links with scripts served by the app alone. Along the way every page
is photographed with the demo user's data; `UPDATE_SCREENSHOTS=1` writes the
pictures to `docs/screenshots/` (the README's), otherwise to a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hippograph.backends import open_store
from hippograph.config import Settings
from hippograph.memories import MemoryManager
from hippograph.ui.demo import DEMO_USER
from tests.servers import free_port, wait_for

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--hide-scrollbars",
)  # fmt: skip
VIEWPORT = {"width": 1440, "height": 1180, "deviceScaleFactor": 1, "mobile": False}
NEW_FACT = "I volunteer at a coding club for kids on Saturdays."
UPDATE_SCREENSHOTS = bool(os.environ.get("UPDATE_SCREENSHOTS"))

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)),
        reason="Chromium is not installed (apt-get install chromium chromium-driver; "
        ".ci/run installs it when it can)",
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Settings]]:
    """`hippograph ui --demo` on a free port over a fresh store file."""
    root = tmp_path_factory.mktemp("browser")
    db = root / "memories.db"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIPPOGRAPH_")}
    env.pop("OPENAI_API_KEY", None)
    log = (root / "server.log").open("w")
    command = "from hippograph.cli import main; main()"
    process = subprocess.Popen(
        [sys.executable, "-c", command, "ui", "--demo", "--db", str(db), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if process.poll() is not None:
            raise RuntimeError((root / "server.log").read_text())
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as reply:
                return reply.status == 200
        except OSError:
            return False

    try:
        wait_for(healthy, timeout=180, what="the UI server")
        yield base, Settings(db_path=db, user_id=DEMO_USER)
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Chromium (Debian's) through the system chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", VIEWPORT)
    try:
        yield driver
    finally:
        driver.quit()


class Page:
    """What a person does with the app: open pages, type, click, read, photograph."""

    def __init__(self, driver: Any, base: str, shots: Path) -> None:
        self.driver = driver
        self.base = base
        self.shots = shots

    def find(self, css: str) -> list[Any]:
        from selenium.webdriver.common.by import By

        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def idle(self) -> None:
        """Wait until the app has finished running (the status widget stays away)."""
        calm = {"since": None}

        def settled() -> bool:
            if self.find('[data-testid="stStatusWidget"]'):
                calm["since"] = None
                return False
            calm["since"] = calm["since"] or time.monotonic()
            return time.monotonic() - calm["since"] > 0.6

        wait_for(settled, what="the app to finish running")

    def open(self, path: str, user: str = DEMO_USER, title: str = "") -> None:
        self.driver.get(f"{self.base}/{path}?user={user}")
        wait_for(lambda: title in self.text(), what=f"page {title!r}")
        self.idle()

    def text(self) -> str:
        return str(self.driver.find_element("tag name", "body").text)

    def grid(self) -> list[str]:
        return [c.get_attribute("textContent") for c in self.find('td[role="gridcell"]')]

    def click(self, label: str) -> None:
        button = wait_for(
            lambda: next(
                b
                for b in self.find("button")
                if any(line.startswith(label) for line in b.text.splitlines())  # after the icon
            ),
            what=f"button {label!r}",
        )
        button.click()
        self.idle()

    def chat(self, text: str) -> None:
        from selenium.webdriver.common.keys import Keys

        box = wait_for(lambda: self.find('[data-testid="stChatInputTextArea"]')[0])
        box.send_keys(text, Keys.ENTER)
        wait_for(lambda: text in self.text(), what="the message to show")
        self.idle()

    def pick(self, label: str, typed: str) -> None:
        from selenium.webdriver.common.keys import Keys

        widget = next(w for w in self.find('[data-testid="stMultiSelect"]') if label in w.text)
        field = widget.find_element("css selector", "input")
        field.click()
        field.send_keys(typed)
        wait_for(lambda: self.find('[role="option"]'), what=f"options for {typed!r}")
        field.send_keys(Keys.ENTER)
        self.idle()

    def resources(self) -> list[str]:
        """Every URL the page has loaded (scripts, styles, fonts, data)."""
        return list(
            self.driver.execute_script(
                "return performance.getEntriesByType('resource').map(e => e.name)"
            )
        )

    def shoot(self, name: str) -> Path:
        for pane in self.find('[data-testid="stMain"]'):
            self.driver.execute_script("arguments[0].scrollTop = 0", pane)
        self.driver.execute_script("document.activeElement && document.activeElement.blur()")
        time.sleep(0.5)
        path = self.shots / f"{name}.png"
        self.driver.save_screenshot(str(path))
        assert path.stat().st_size > 20_000, f"{name}.png looks empty"
        return path


def _memories(settings: Settings, user: str, embeddings: Any) -> list[str]:
    with open_store(settings=settings, embeddings=embeddings) as store:
        return [m.content for m in MemoryManager(store, user).list()]


def test_a_person_adds_sees_and_deletes_a_memory(server, browser, tmp_path, embeddings):
    base, settings = server
    shots = SCREENSHOTS if UPDATE_SCREENSHOTS else tmp_path
    shots.mkdir(parents=True, exist_ok=True)
    page = Page(browser, base, shots)

    page.open("", title="Chat")
    assert "Offline mode: no chat model is configured" in page.text()
    page.chat(NEW_FACT)
    wait_for(lambda: "ADDED" in page.text(), what="the ADDED operation")
    assert NEW_FACT in _memories(settings, DEMO_USER, embeddings)
    page.chat("Which editor do I use, NeoVim?")
    wait_for(lambda: "Uses NeoVim as her editor" in page.text(), what="the recalled memory")
    page.chat(NEW_FACT)
    wait_for(lambda: "NO CHANGE" in page.text(), what="the duplicate to be skipped")
    page.shoot("chat")

    page.open("memories", title="Memories")
    wait_for(lambda: NEW_FACT in page.grid(), what="the new memory in the table")
    assert "Lives in Porto" in page.grid() and "Lives in Lisbon" not in page.grid()
    page.shoot("memories")

    page.pick("Select memories to delete", "coding club")
    page.click("Delete 1 selected")
    assert "Delete 1 memory of maya?" in page.text()
    page.click("Yes, delete")
    wait_for(lambda: "Deleted 1 memory." in page.text(), what="the deletion notice")
    wait_for(lambda: NEW_FACT not in page.grid() and page.grid(), what="the row to go")
    assert NEW_FACT not in _memories(settings, DEMO_USER, embeddings)

    page.open("search", title="Search")
    from selenium.webdriver.common.keys import Keys

    query = page.find('input[aria-label="Query"]')[0]
    query.send_keys("Which programming language do I use?", Keys.ENTER)
    wait_for(lambda: "#1 · score" in page.text(), what="search results")
    page.idle()
    assert page.text().index("Codes primarily in Java") < page.text().index("Lives in Porto")
    page.shoot("search")

    page.open("analytics", title="Analytics")
    wait_for(
        lambda: (
            len(
                page.find(
                    '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
                )
            )
            >= 4
        ),
        what="charts",
    )
    assert "Most recalled" in page.text()
    page.shoot("analytics")

    page.open("graph", title="Graph")
    chart = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
    wait_for(lambda: page.find(chart), what="the graph")
    assert "Links" in page.text() and "Links of a memory" in page.text()
    outside = [u for u in page.resources() if not u.startswith((base, "data:", "blob:"))]
    assert not outside, f"the graph page loaded resources from elsewhere: {outside}"
    page.shoot("graph")

    page.open("history", title="History")
    assert "UPDATED" in page.text() and "DELETED" in page.text()
    assert "Codes primarily in Python" in page.text()  # the old text of an update
    page.shoot("history")

    page.open("memories", user="newcomer", title="Memories")
    wait_for(lambda: "No memories yet for newcomer" in page.text(), what="the empty state")
    assert "Porto" not in page.text() and not page.grid()
