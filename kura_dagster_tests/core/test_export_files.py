"""Export files: all of an export or none of it, never an earlier export truncated."""

from __future__ import annotations

import pytest

from kura_dagster.core.storage import export as export_module
from kura_dagster.core.storage.export import NothingToExport, export_partition
from kura_dagster_tests.synthetic_partition import synthetic_partition, write_synthetic_partition

DAY = "2026-11-07"


def _files(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


@pytest.mark.parametrize("fmt", ["kura", "parquet"])
def test_an_export_that_fails_half_way_leaves_the_earlier_one_intact(tmp_path, monkeypatch, fmt):
    database, out = tmp_path / "kura.duckdb", tmp_path / "out"
    write_synthetic_partition(database, "demo", DAY, synthetic_partition(40, 4), with_trends=False)
    counts = export_partition(database, "demo", DAY, out, fmt)
    assert counts[f"conversations.{'jsonl' if fmt == 'kura' else fmt}"] == 40
    before = _files(out)

    calls = []
    writer = "_write_jsonl" if fmt == "kura" else "read_table"
    real = getattr(export_module, writer)

    def third_fails(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:
            raise OSError("No space left on device")
        return real(*args, **kwargs)

    monkeypatch.setattr(export_module, writer, third_fails)
    with pytest.raises(OSError, match="No space left"):
        export_partition(database, "demo", DAY, out, fmt)
    assert _files(out) == before  # no file replaced, no scratch folder left


def test_nothing_to_export_touches_nothing(tmp_path):
    database, out = tmp_path / "kura.duckdb", tmp_path / "out"
    write_synthetic_partition(database, "demo", DAY, synthetic_partition(40, 4), with_trends=False)
    with pytest.raises(NothingToExport, match="nothing to export for dataset 'demo' on 2026-11-08"):
        export_partition(database, "demo", "2026-11-08", out, "csv")
    assert not out.exists()
