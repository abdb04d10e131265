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
    assert main(["report", "--dataset", "demo", "--date", DAY, "--out", str(kura_env / "with-messages.html")]) == 0
    assert "Here is how." in (kura_env / "with-messages.html").read_text(encoding="utf-8")

    assert main(["report", "--dataset", "demo", "--date", "2026-11-08"]) == 2
    assert "no conversations for demo on 2026-11-08" in capsys.readouterr().err
