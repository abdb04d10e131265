"""`kura-dagster report`: the default path under KURA_HOME, --out, messages only when asked, clear errors."""

from kura_dagster.cli import main
from kura_dagster_tests.synthetic_partition import synthetic_partition, write_synthetic_partition

DAY = "2026-11-07"


def test_report_command(kura_env, monkeypatch, capsys):
    home = kura_env / "home"
    part = synthetic_partition(200, 12)
    write_synthetic_partition(home / "kura.duckdb", "demo", DAY, part)

    assert main(["report", "--dataset", "demo", "--date", DAY]) == 0
    default = home / "reports" / "demo" / f"{DAY}.html"
    out = capsys.readouterr().out
    assert out.startswith(f"{default}: 200 conversations, {len(part.tree)} clusters, with topics over time")
    page = default.read_text(encoding="utf-8")
    assert '"dataset":"demo"' in page and "Here is how." not in page  # messages are off by default

    monkeypatch.setenv("KURA_REPORT_INCLUDE_MESSAGES", "true")
    assert (
        main(["report", "--dataset", "demo", "--date", DAY, "--out", str(kura_env / "with-messages.html")])
        == 0
    )
    assert "Here is how." in (kura_env / "with-messages.html").read_text(encoding="utf-8")

    assert main(["report", "--dataset", "demo", "--date", "2026-11-08"]) == 2
    assert "no conversations for demo on 2026-11-08" in capsys.readouterr().err


def _pipeline_writes(database, part, *tables_in_order):
    """Write tables of the partition as a run's steps do, one after the other (the IO manager's own call)."""
    from datetime import date

    from kura_dagster.core.storage.store import connect, write_partition

    with connect(database) as connection:
        for name in tables_in_order:
            write_partition(connection, name, "demo", date.fromisoformat(DAY), getattr(part, name))


def test_a_report_while_a_run_rewrites_the_day_refuses_rather_than_mix(kura_env, capsys):
    """New summaries under the old tree (a run between its summaries and meta_clusters steps): one line, the page
    already there untouched; once the run has written the rest, the report shows the new day."""
    database = kura_env / "home" / "kura.duckdb"
    page = kura_env / "page.html"
    old = synthetic_partition(120, 8)
    write_synthetic_partition(database, "demo", DAY, old, with_trends=False)
    assert main(["report", "--dataset", "demo", "--date", DAY, "--out", str(page)]) == 0
    before = page.read_bytes()
    capsys.readouterr()

    new = synthetic_partition(120, 8, summaries_text=[f"Rewritten summary {k}" for k in range(120)])
    _pipeline_writes(database, new, "summaries")
    assert main(["report", "--dataset", "demo", "--date", DAY, "--out", str(page)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(
        f"kura-dagster report: error: dataset 'demo' on {DAY} is part-way through a rewrite: its summaries were "
        "written after its meta_clusters, so a page would mix two versions"
    )
    assert page.read_bytes() == before

    _pipeline_writes(database, new, "meta_clusters", "projections")
    assert main(["report", "--dataset", "demo", "--date", DAY, "--out", str(page)]) == 0
    assert "Rewritten summary 7" in page.read_text(encoding="utf-8")


def test_nothing_to_report_leaves_the_file_there_untouched(kura_env, capsys):
    write_synthetic_partition(
        kura_env / "home" / "kura.duckdb", "demo", DAY, synthetic_partition(40, 4), with_trends=False
    )
    page = kura_env / "explorer.html"
    page.write_text("my earlier page", encoding="utf-8")
    assert main(["report", "--dataset", "demo", "--date", "2026-11-08", "--out", str(page)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "no conversations for demo on 2026-11-08" in error
    assert page.read_text(encoding="utf-8") == "my earlier page"
    assert sorted(p.name for p in kura_env.iterdir() if p.is_file()) == ["explorer.html"]


def test_a_write_that_fails_half_way_leaves_the_previous_page_whole(kura_env):
    """The disk fills up while the page is written (a file size limit stands in for a full disk)."""
    import os
    import resource
    import subprocess
    import sys
    from pathlib import Path

    write_synthetic_partition(
        kura_env / "home" / "kura.duckdb", "demo", DAY, synthetic_partition(200, 12), with_trends=False
    )
    folder = kura_env / "pages"
    page = folder / "explorer.html"
    assert main(["report", "--dataset", "demo", "--date", DAY, "--out", str(page)]) == 0
    before = page.read_bytes()
    assert len(before) > 60_000

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))  # Python ignores SIGXFSZ: writes fail

    script = Path(sys.executable).parent / "kura-dagster"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "kura_dagster.cli"]
    full = subprocess.run(
        command + ["report", "--dataset", "demo", "--date", DAY, "--out", str(page)],
        cwd=kura_env,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=small_disk,
    )
    assert full.returncode == 2, full.stderr
    assert full.stderr.count("\n") == 1 and full.stderr.startswith(
        f"kura-dagster report: error: {page}: file too large for this file system or limit; free some space or write "
        "somewhere else; a page already there is "
        "unchanged"
    ), full.stderr
    assert page.read_bytes() == before
    assert [p.name for p in folder.iterdir()] == ["explorer.html"]  # no half-written file left behind
