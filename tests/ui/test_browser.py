"""The UI in a real browser: `hippograph ui --demo` on 127.0.0.1, driven by headless Chromium.

A person's path: chat adds a memory, the Memories page shows it, delete it (with
confirmation), it is gone — from the page and from the store file; the Graph page draws the
demo user's links with scripts served by the app alone. Along the way every page
is photographed with the demo user's data; `UPDATE_SCREENSHOTS=1` writes the
pictures to `docs/screenshots/` (the README's), otherwise to a temporary directory.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
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
        self.assert_clear_of_header("h1")

    def navigate(self, label: str, title: str) -> None:
        """Click a page in the sidebar, as a person moves between pages."""
        link = next(
            a for a in self.find('[data-testid="stSidebarNavLink"]') if label in a.text.splitlines()
        )
        link.click()
        wait_for(lambda: self.find("h1") and self.find("h1")[0].text == title, what=title)
        self.idle()

    def query(self) -> dict[str, list[str]]:
        from urllib.parse import parse_qs, urlparse

        return parse_qs(urlparse(self.driver.current_url).query)

    def box(self, element: Any) -> dict[str, float]:
        script = "return arguments[0].getBoundingClientRect()"
        return dict(self.driver.execute_script(script, element))

    def assert_clear_of_header(self, css: str) -> None:
        """Every element matching `css` starts below Streamlit's header (not under it)."""
        (header,) = self.find('[data-testid="stHeader"]')
        bottom = self.box(header)["bottom"]
        for element in self.find(css):
            assert self.box(element)["top"] >= bottom - 0.5, (
                f"{css} {element.text[:40]!r} starts under the header"
            )

    def truncated_buttons(self) -> list[str]:
        """Buttons whose label is cut short (Streamlit ends it with an ellipsis)."""
        return list(
            self.driver.execute_script(
                """const labels = 'button [data-testid="stMarkdownContainer"]';
                return [...document.querySelectorAll(labels)]
                  .filter(e => e.offsetParent && e.scrollWidth > e.clientWidth + 1)
                  .map(e => e.innerText)"""
            )
        )

    def edit_cell(self, row: int, column: int, text: str, done: Callable[[], Any]) -> None:
        """Type `text` into a cell of the data editor, as a person does, until `done()` says
        the app took the edit (the grid is a canvas that may still be settling when it is
        first clicked, so a lost keystroke is retried)."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        for attempt in range(3):
            try:
                self._type_into_cell(row, column, text)
                wait_for(done, timeout=10, what=f"the edit {text!r} to reach the app")
                return
            except TimeoutError:
                if attempt == 2:
                    raise
                ActionChains(self.driver).send_keys(Keys.ESCAPE).perform()
                self.idle()

    def _type_into_cell(self, row: int, column: int, text: str) -> None:
        """Select the row's first cell, arrow across to the column, Enter opens the
        editor, type, Enter."""
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.keys import Keys

        (grid,) = wait_for(lambda: self.find('[data-testid="stDataFrame"]'), what="the grid")
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", grid)
        size = grid.size
        first = (-size["width"] / 2 + 40, -size["height"] / 2 + 35 * (row + 1) + 17)
        ActionChains(self.driver).move_to_element_with_offset(grid, *first).click().perform()
        keys = [Keys.ARROW_RIGHT] * column
        ActionChains(self.driver).send_keys(*keys, Keys.ENTER).perform()
        editor = wait_for(lambda: self.find("input.gdg-input, textarea.gdg-input")[0], timeout=10)
        editor.send_keys(Keys.CONTROL, "a")
        editor.send_keys(text)
        wait_for(lambda: editor.get_attribute("value") == text, timeout=10)
        time.sleep(0.5)  # the grid takes the value from its own state, a moment later
        ActionChains(self.driver).send_keys(Keys.ENTER).perform()
        self.idle()

    def axis_labels(self) -> list[list[tuple[str, bool]]]:
        """Per chart: each axis label's text and whether it is shown (Vega hides
        overlapping labels with opacity 0)."""
        return [
            [(text, shown) for text, shown in chart]
            for chart in self.driver.execute_script(
                """return [...document.querySelectorAll('[data-testid="stVegaLiteChart"] svg')]
                  .map(c => [...c.querySelectorAll('.role-axis-label text')]
                    .map(t => [t.textContent, t.getAttribute('opacity') !== '0']));"""
            )
        ]

    def graph_marks(self) -> dict[str, Any]:
        """The graph chart as drawn (SVG): circle and label boxes, link segments, legend."""
        return dict(
            self.driver.execute_script(
                """
                const chart = document.querySelector('[data-testid="stVegaLiteChart"] svg');
                const box = e => { const b = e.getBoundingClientRect();
                  return [b.left, b.top, b.right, b.bottom]; };
                const marks = (kind, el) =>
                  [...chart.querySelectorAll(`g.mark-${kind}.role-mark ${el}`)];
                return {
                  plot: box(chart),
                  circles: marks('symbol', 'path').map(box),
                  labels: marks('text', 'text').filter(t => !t.getAttribute('stroke'))
                    .map(t => [t.textContent, ...box(t)]),
                  links: marks('rule', 'line').map(l => {
                    const m = l.getScreenCTM();
                    const p = (x, y) => { const q = chart.createSVGPoint(); q.x = x; q.y = y;
                      const r = q.matrixTransform(m); return [r.x, r.y]; };
                    return [...p(+l.getAttribute('x1') || 0, +l.getAttribute('y1') || 0),
                            ...p(+l.getAttribute('x2') || 0, +l.getAttribute('y2') || 0)]; }),
                  legend: [...chart.querySelectorAll('.role-legend-symbol path')]
                    .map(e => getComputedStyle(e).strokeWidth),
                  legendText: [...chart.querySelectorAll('.role-legend-label text')]
                    .map(e => e.getAttribute('fill')),
                };"""
            )
        )

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


def _overlap(a: list[float], b: list[float], slack: float = 0.5) -> bool:
    """Whether boxes `[left, top, right, bottom]` overlap by more than `slack` pixels."""
    return min(a[2], b[2]) - max(a[0], b[0]) > slack and min(a[3], b[3]) - max(a[1], b[1]) > slack


def _crosses(box: list[float], line: list[float], samples: int = 400) -> bool:
    """Whether the segment `[x1, y1, x2, y2]` passes through `box` (shrunk by a pixel)."""
    x1, y1, x2, y2 = line
    left, top, right, bottom = box[0] + 1, box[1] + 1, box[2] - 1, box[3] - 1
    for n in range(samples + 1):
        x, y = x1 + (x2 - x1) * n / samples, y1 + (y2 - y1) * n / samples
        if left < x < right and top < y < bottom:
            return True
    return False


def _contrast(color: str) -> float:
    """WCAG contrast ratio of a `#rrggbb` colour on white."""

    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(color.lstrip("#")[i : i + 2], 16) for i in (0, 2, 4))
    luminance = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return 1.05 / (luminance + 0.05)


def check_graph_drawing(page: Page) -> None:
    """Issue 20.13: labels beside their circles, no link through a label, no label on
    another, flat legend dots with dark text, and the drawing fills the chart's width."""
    marks = page.graph_marks()
    labels = [(text, box) for text, *box in marks["labels"]]
    assert len(labels) == len(marks["circles"]) == 11
    for text, box in labels:
        inside = [c for c in marks["circles"] if _overlap(box, c)]
        assert not inside, f"label {text!r} overlaps a circle"
        crossing = [line for line in marks["links"] if _crosses(box, line)]
        assert not crossing, f"a link crosses the label {text!r}"
        others = [t for t, b in labels if t != text and _overlap(box, b)]
        assert not others, f"label {text!r} overlaps {others}"
        assert marks["plot"][0] <= box[0] and box[2] <= marks["plot"][2], f"{text!r} is cut"
    assert marks["legend"] and all(float(w.rstrip("px")) == 0 for w in marks["legend"])
    assert all(_contrast(color) >= 7 for color in marks["legendText"]), marks["legendText"]
    drawn = [*marks["circles"], *(box for _, box in labels)]
    left, right = min(b[0] for b in drawn), max(b[2] for b in drawn)
    plot_left, _, plot_right, _ = marks["plot"]
    assert (right - left) / (plot_right - plot_left) > 0.9, "the drawing leaves a side empty"

    def area(box: list[float]) -> float:
        return (box[2] - box[0]) * (box[3] - box[1])

    ink = sum(area(box) for _, box in labels) + sum(area(c) * 0.785 for c in marks["circles"])
    assert ink / area(marks["plot"]) > 0.06, "mostly empty space"  # was 0.049 at 520 px tall


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
    page.assert_clear_of_header('[data-testid="stAlert"]')  # issue 20.10
    wait_for(lambda: NEW_FACT not in page.grid() and page.grid(), what="the row to go")
    assert NEW_FACT not in _memories(settings, DEMO_USER, embeddings)

    page.open("search", title="Search")
    from selenium.webdriver.common.keys import Keys

    query = page.find('input[aria-label="Query"]')[0]
    query.send_keys("Where do I live and work?", Keys.ENTER)
    wait_for(lambda: "#1 · score" in page.text(), what="search results")
    page.idle()
    shown = page.text()
    assert shown.index("Lives in Porto") < shown.index("Works as a data engineer at Acme")
    assert "weaker matches below the cut-off" in shown  # issue 20.12
    assert "Is allergic to peanuts" not in shown  # folded away with the weaker matches
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
    by_category, importance, growth, recalled = page.axis_labels()
    for chart in (by_category, importance, recalled):
        assert all(shown for _, shown in chart), chart  # every bar and tick named
    assert {"0.0", "0.5", "1.0"} & {text for text, _ in importance}
    dates = [text for text, shown in growth if shown and not text.isdigit()]
    assert dates and all(re.fullmatch(r"[A-Z][a-z]{2} \d\d", d) for d in dates), dates
    page.shoot("analytics")

    page.open("graph", title="Graph")
    chart = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg'
    wait_for(lambda: page.find(chart), what="the graph")
    assert "Links" in page.text() and "Links of a memory" in page.text()
    outside = [u for u in page.resources() if not u.startswith((base, "data:", "blob:"))]
    assert not outside, f"the graph page loaded resources from elsewhere: {outside}"
    check_graph_drawing(page)
    page.shoot("graph")

    page.open("history", title="History")
    assert "UPDATED" in page.text() and "DELETED" in page.text()
    assert "Codes primarily in Python" in page.text()  # the old text of an update
    page.shoot("history")

    page.open("memories", user="newcomer", title="Memories")
    wait_for(lambda: "No memories yet for newcomer" in page.text(), what="the empty state")
    assert "Porto" not in page.text() and not page.grid()

    for label, title in (("Search", "Search"), ("Chat", "Chat"), ("Graph", "Graph")):
        page.navigate(label, title)  # issue 20.13: the user stays in the URL
        assert page.query().get("user") == ["newcomer"], page.driver.current_url
        assert "Talking as newcomer" in page.text() or "for newcomer" in page.text()


def test_adding_and_editing_memories_in_the_browser(server, browser, embeddings):
    """Issues 20.8, 20.10, 20.11: the add box empties, a second click adds no duplicate, the
    banner is in view, and importance 1.7 typed into the table is refused, not clamped."""
    base, settings = server
    page = Page(browser, base, Path())
    user = "ines"
    page.open("memories", user=user, title="Memories")
    fact = "Likes *oolong* tea and $x$ as a variable name"  # shown as typed: no Markdown
    for attempt in (1, 2):
        box = wait_for(lambda: page.find('textarea[aria-label="Memory"]')[0])
        box.send_keys(fact)
        page.click("Add memory")
        if attempt == 1:
            wait_for(lambda: f"Added “{fact}”." in page.text(), what="the added notice")
            page.assert_clear_of_header('[data-testid="stAlert"]')
            wait_for(
                lambda: page.find('textarea[aria-label="Memory"]')[0].get_attribute("value") == "",
                what="an empty box",
            )
    wait_for(lambda: "Not added: already remembered as" in page.text(), what="the refusal")
    assert f"already remembered as “{fact}” (similarity 1.00)." in page.text()
    assert _memories(settings, user, embeddings) == [fact]

    save = "Save 1 edited row"
    page.edit_cell(0, 2, "1.7", done=lambda: any(save in b.text for b in page.find("button")))
    page.click(save)
    wait_for(lambda: "Nothing was saved" in page.text(), what="the refusal")
    assert "importance must be within [0, 1], got 1.7" in page.text()
    with open_store(settings=settings, embeddings=embeddings) as store:
        assert [m.importance for m in MemoryManager(store, user).list()] == [0.5]


@pytest.mark.parametrize("width", [1024, 1280, 1400])
def test_buttons_and_titles_fit_at_common_widths(server, browser, width):
    """Issue 20.13: "New conversation" was cut to "New conversa…" at 1400 px."""
    base, _ = server
    page = Page(browser, base, Path())
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**VIEWPORT, "width": width})
    try:
        for path, title in (("", "Chat"), ("memories", "Memories"), ("graph", "Graph")):
            page.open(path, title=title)
            assert not page.truncated_buttons(), (width, title, page.truncated_buttons())
    finally:
        browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", VIEWPORT)
