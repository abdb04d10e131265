"""How big and how fast the HTML explorer is for a large partition (default 100,000 conversations, 5,000 leaves).

    python bench/report_scale.py                          # 100k / 5k, with the browser timings
    python bench/report_scale.py --conversations 20000 --leaves 1000 --no-browser
    python bench/report_scale.py --messages               # also a page with every conversation's messages

Builds a synthetic partition that follows the table contract (kura_dagster_tests/synthetic_partition.py: a
valid tree, projections, summaries with facets and metadata, a week of embeddings for topics over time) in a
scratch DuckDB under bench/results/, then measures:
- generation: reading the tables, building the data and writing the page (what `kura-dagster report` does);
- the file: its size and the share of the embedded data taken by each part;
- in headless Chromium (when /usr/bin/chromium and playwright are there): time until the page is ready,
  the first draw of the map, a search, and a click on the largest top-level topic.
Results are printed and saved as JSON next to the scratch database. Nothing here is asserted: a bench measures.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kura_dagster.core.views.explorer import embed_json, load_report_data, render_report_html  # noqa: E402
from kura_dagster_tests.synthetic_partition import synthetic_partition, write_synthetic_partition  # noqa: E402

DAY = "2026-11-07"
CHROMIUM = Path("/usr/bin/chromium")


def build(database: Path, conversations: int, leaves: int) -> dict:
    started = time.perf_counter()
    part = synthetic_partition(conversations, leaves, day=DAY)
    database.unlink(missing_ok=True)
    write_synthetic_partition(database, "bench", DAY, part)
    return {"synthetic_partition_s": round(time.perf_counter() - started, 2), "tree_nodes": len(part.tree)}


def generate(database: Path, out: Path, include_messages: bool) -> dict:
    started = time.perf_counter()
    data = load_report_data(database, "bench", DAY, include_messages=include_messages)
    loaded = time.perf_counter()
    page = render_report_html(data)
    out.write_text(page, encoding="utf-8")
    done = time.perf_counter()
    parts = {"clusters": data["clusters"], "trends": data["trends"]}
    parts.update({f"conversations.{key}": value for key, value in data["conversations"].items()})
    sizes = {name: len(embed_json(value).encode()) for name, value in parts.items()}
    return {
        "messages": include_messages,
        "read_and_build_s": round(loaded - started, 2),
        "render_and_write_s": round(done - loaded, 2),
        "generation_s": round(done - started, 2),
        "file_mb": round(out.stat().st_size / 1e6, 2),
        "embedded_mb_by_part": {
            name: round(size / 1e6, 2) for name, size in sorted(sizes.items(), key=lambda i: -i[1])
        },
    }


def browse(page_path: Path) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        started = time.perf_counter()
        page.goto(page_path.as_uri())
        page.wait_for_function("window.kuraExplorer && window.kuraExplorer.ready", timeout=120_000)
        ready = time.perf_counter() - started
        page.wait_for_timeout(500)
        first_draw = page.evaluate("window.kuraExplorer.timings.draw")
        search_ms = page.evaluate(
            "(() => { window.kuraExplorer.search('refund'); return window.kuraExplorer.timings.search; })()"
        )
        page.wait_for_timeout(300)
        filtered_draw = page.evaluate("window.kuraExplorer.timings.draw")
        page.evaluate("window.kuraExplorer.search('')")
        click_ms = page.evaluate(
            "(() => { const t = performance.now(); window.kuraExplorer.select(0, true); return performance.now() - t; })()"
        )
        matched = page.locator("#status").text_content()
        browser.close()
    return {
        "ready_s": round(ready, 2),
        "first_draw_ms": round(first_draw, 1),
        "search_ms": round(search_ms, 1),
        "filtered_draw_ms": round(filtered_draw, 1),
        "select_largest_topic_ms": round(click_ms, 1),
        "status_after_select": matched,
        "page_errors": errors,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--leaves", type=int, default=5_000)
    parser.add_argument(
        "--messages", action="store_true", help="also measure a page that includes the messages"
    )
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    database = args.out / "report_scale.duckdb"
    result: dict = {
        "conversations": args.conversations,
        "leaves": args.leaves,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    result.update(build(database, args.conversations, args.leaves))
    page_path = args.out / "report_scale.html"
    result["page"] = generate(database, page_path, include_messages=False)
    if args.messages:
        result["page_with_messages"] = generate(
            database, args.out / "report_scale_messages.html", include_messages=True
        )
    if not args.no_browser and CHROMIUM.exists():
        result["browser"] = browse(page_path)
    print(json.dumps(result, indent=2))
    (args.out / "report_scale.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
