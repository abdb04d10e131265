"""The HTML explorer in a real browser: Debian's Chromium, headless, driven by Playwright.

`make setup` installs Chromium when it is missing and apt can; Playwright never downloads a browser here.
Screenshots go to $KURA_TEST_ARTIFACTS (default .kura/test-artifacts/, ignored by git).
"""

import os
from pathlib import Path

import pytest

from kura_dagster.core.views.explorer import build_report_data, render_report_html, write_report
from kura_dagster_tests.conftest import REPO
from kura_dagster_tests.core.test_report import HOSTILE, window_scenario
from kura_dagster_tests.synthetic_partition import synthetic_partition, write_synthetic_partition

CHROMIUM = Path(os.environ.get("KURA_CHROMIUM", "/usr/bin/chromium"))
DAY = "2026-11-07"
ZEBRA = "Zebra crossing permits"


def artifacts() -> Path:
    path = Path(os.environ.get("KURA_TEST_ARTIFACTS") or REPO / ".kura" / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: run `make setup` (apt-get install chromium) or set KURA_CHROMIUM"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # --no-sandbox: Chromium's sandbox refuses to run as root, which is how CI runs here.
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """600 conversations, 24 leaves (four with hostile names, one about zebras), a week of trends, messages."""
    tmp = tmp_path_factory.mktemp("explorer")
    names = HOSTILE + [ZEBRA] + [f"Topic number {i}" for i in range(19)]
    part = synthetic_partition(600, 24, leaf_names=names)
    write_synthetic_partition(tmp / "kura.duckdb", "demo", DAY, part)
    result = write_report(tmp / "kura.duckdb", "demo", DAY, tmp / "report.html", include_messages=True)
    return result.path, part


@pytest.fixture
def page(browser, report):
    path, _ = report
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    problems: list[str] = []
    opened.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type in ("error", "warning")
            else None
        ),
    )
    opened.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    opened.on(
        "request",
        lambda request: (
            problems.append(f"network request: {request.url}")
            if not request.url.startswith("file://")
            else None
        ),
    )
    opened.goto(path.as_uri())
    opened.wait_for_function("window.kuraExplorer && window.kuraExplorer.ready")
    yield opened, problems
    context.close()


def test_opens_offline_without_errors_and_hostile_names_stay_text(page, report):
    opened, problems = page
    _, part = report
    opened.wait_for_timeout(200)  # let the first frame draw
    assert problems == []
    assert opened.evaluate("window.pwned") is None  # no injected script ran
    assert opened.locator("img").count() == 0
    ids = opened.evaluate("window.kuraExplorer.data.clusters.id")
    for node in part.tree:
        if node.name in HOSTILE:  # select it as the map would: the tree opens its parents
            opened.evaluate(f"window.kuraExplorer.select({ids.index(node.id)}, true)")
            assert opened.locator("#detail-name").text_content() == node.name  # shown literally, as text
            assert opened.locator("#tree .node-row.selected .name").text_content() == node.name
    assert opened.evaluate("window.pwned") is None and opened.locator("img").count() == 0
    roots = sum(1 for node in part.tree if node.parent_id is None)
    assert opened.locator("#tree > .node").count() == roots
    assert opened.locator("#trends .trend-table tr[data-status]").count() >= roots
    assert opened.locator("#trends .badge.emerging").count() >= 1
    opened.screenshot(path=str(artifacts() / "explorer.png"), full_page=True)
    assert (artifacts() / "explorer.png").stat().st_size > 10_000


def test_clicking_a_tree_node_shows_its_details(page, report):
    opened, problems = page
    _, part = report
    zebra = next(node for node in part.tree if node.name == ZEBRA)
    parent = next(node for node in part.tree if node.id == zebra.parent_id)
    leaf_row = opened.locator("#tree").get_by_text(ZEBRA, exact=True)
    assert leaf_row.count() == 0  # its parent is collapsed: not rendered yet
    opened.locator("#tree .node-row", has=opened.get_by_text(parent.name, exact=True)).locator(
        ".toggle"
    ).click()
    leaf_row.click()
    assert opened.locator("#detail-name").text_content() == ZEBRA
    assert opened.locator("#tree .node-row.selected .name").text_content() == ZEBRA
    assert opened.locator("#detail-count").text_content().startswith(f"{zebra.count} ")
    assert opened.locator("#members .member").count() == min(50, zebra.count)
    assert "Languages" in opened.locator("#details").text_content()
    # Messages are in this report (include_messages): shown on demand, as text.
    opened.locator("#members .member .link").first.click()
    assert opened.locator("#members .message").count() == 2
    assert problems == []


def test_search_filters_the_tree_the_map_and_the_status(page, report):
    opened, problems = page
    _, part = report
    # What the page should find: members of clusters named or described with the word, and summaries with it.
    summaries = dict(
        zip(part.summaries.column("chat_id").to_pylist(), part.summaries.column("summary").to_pylist())
    )
    expected = {
        chat
        for node in part.tree
        if "zebra" in (node.name + node.description).lower()
        for chat in node.chat_ids
    }
    expected |= {chat for chat, text in summaries.items() if "zebra" in text.lower()}
    leaves = {node.id for node in part.tree if not any(other.parent_id == node.id for other in part.tree)}
    hit_leaves = {node.id for node in part.tree if node.id in leaves and expected & set(node.chat_ids)}
    assert 0 < len(expected) < 600
    opened.fill("#search", "ZEBRA")  # case does not matter
    opened.wait_for_function("document.getElementById('status').textContent.includes('match')")
    assert (
        opened.locator("#status")
        .text_content()
        .startswith(f"{len(expected)} of 600 conversations match in {len(hit_leaves)} clusters")
    )
    # The tree opens to every cluster with a hit, and shows no other.
    visible = opened.locator("#tree .node-row .name").all_text_contents()
    assert sorted(visible) == sorted(node.name for node in part.tree if expected & set(node.chat_ids))
    assert ZEBRA in visible and len(visible) < len(part.tree)
    opened.fill("#search", "")
    opened.wait_for_function("document.getElementById('status').textContent.startsWith('600 conversations')")
    assert problems == []


def test_facet_filter_and_colour_by(page, report):
    opened, problems = page
    opened.select_option("#filter-facet", "meta:channel")
    web = opened.locator("#filter-value option", has_text="web")
    opened.select_option("#filter-value", web.get_attribute("value"))
    opened.click("#filter-add")
    assert opened.locator("#status").text_content().startswith("150 of 600 conversations match")
    assert opened.locator("#filters .chip").count() == 1
    opened.select_option("#colour-by", "frustration")
    assert opened.locator("#legend").text_content().startswith("1 (")
    opened.locator("#filters .chip button").click()
    assert opened.locator("#status").text_content().startswith("600 conversations")
    assert problems == []


def test_map_hover_and_click_select_a_cluster(page, report):
    opened, problems = page
    _, part = report
    data_index = opened.evaluate(
        "(() => { const d = window.kuraExplorer.data.clusters; let best = -1;"
        " for (let i = 0; i < d.id.length; i++) if (d.start[i] < d.end[i] && !d.parent.includes(i)"
        " && (best < 0 || d.count[i] > d.count[best])) best = i; return best; })()"
    )
    name = opened.evaluate(f"window.kuraExplorer.data.clusters.name[{data_index}]")
    x, y = opened.evaluate(f"window.kuraExplorer.screenPosition({data_index})")
    box = opened.locator("#map").bounding_box()
    opened.mouse.move(box["x"] + x, box["y"] + y)
    assert opened.locator("#tooltip").is_visible()
    assert opened.locator("#tooltip").text_content().startswith(name)
    opened.mouse.click(box["x"] + x, box["y"] + y)
    assert opened.locator("#detail-name").text_content() == name
    # Zoom with the wheel keeps working and draws without errors.
    opened.mouse.wheel(0, -400)
    opened.wait_for_timeout(100)
    assert problems == []


def test_window_view_lists_the_days_topics_and_names_the_lineage(browser, tmp_path):
    """The window view of `window_scenario` as a reader sees it: the day's roots only (no topic of an earlier
    version marked gone), the moved topic among the flagged sub-topics, and lineage events by name."""
    trends, lineage = window_scenario()
    part = synthetic_partition(30, 3)
    data = build_report_data(
        "demo",
        DAY,
        summaries=part.summaries,
        meta_clusters=part.meta_clusters,
        projections=part.projections,
        trends=trends,
        lineage=lineage,
    )
    path = tmp_path / "window.html"
    path.write_text(render_report_html(data), encoding="utf-8")
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    opened = context.new_page()
    opened.goto(path.as_uri())
    opened.wait_for_function("window.kuraExplorer && window.kuraExplorer.ready")
    statuses = opened.locator("#trends .trend-table tr[data-status]").evaluate_all(
        "rows => rows.map(r => r.dataset.status)"
    )
    assert sorted(statuses) == ["emerging", "new", "steady"] and "gone" not in statuses
    assert opened.locator("ul.lineage li").all_text_contents() == [
        "name t3 (t3): born",
        "Renamed t2 (t2): renamed (was “name t2”)",
        "name t4 (t4): split from t8",
        "name t9 (t9): merged into name t1 (t1)",
    ]
    context.close()
