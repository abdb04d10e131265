"""The landing zone's layout, `<data_dir>/<dataset>/<YYYY-MM-DD>.jsonl`, read in one place.

The sensor, `kura-dagster run` and `demo` all see the same datasets and days, and the same things skipped
with the same reasons: folders whose names are not dataset slugs, files whose names are not real dates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from kura_dagster.core.settings import SettingsError, validate_dataset_name


def as_day(stem: str) -> str | None:
    """`stem` if it is a real calendar day written YYYY-MM-DD (strptime alone accepts '2026-1-1')."""
    try:
        day = datetime.strptime(stem, "%Y-%m-%d").date()
    except ValueError:
        return None
    return stem if day.isoformat() == stem else None


@dataclass
class LandingScan:
    """What a scan found: day files by dataset (sorted), and what it skipped with the reason."""

    files: dict[str, dict[str, Path]] = field(default_factory=dict)
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def datasets(self) -> list[str]:
        return sorted(self.files)

    def dates(self, dataset: str) -> list[str]:
        return sorted(self.files.get(dataset, {}))


def scan_landing_zone(data_dir: Path) -> LandingScan:
    """Every dataset folder and day file under `data_dir` (hidden folders ignored, odd names reported)."""
    zone = LandingScan()
    if not data_dir.is_dir():
        return zone
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            dataset = validate_dataset_name(folder.name)
        except SettingsError as error:
            zone.skipped.append((folder.name, str(error)))
            continue
        days = zone.files.setdefault(dataset, {})
        for path in sorted(folder.glob("*.jsonl")):
            day = as_day(path.stem)
            if day is None:
                zone.skipped.append((f"{dataset}/{path.name}", "the name is not a YYYY-MM-DD date"))
            else:
                days[day] = path
    return zone
