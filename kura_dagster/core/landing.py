"""The landing zone's layout, `<data_dir>/<dataset>/<YYYY-MM-DD>.jsonl`, read in one place.

The sensor, `kura-dagster run` and `demo` all see the same datasets and days, and the same things skipped
with the same reasons: folders whose names are not dataset slugs, files whose names are not real dates, and
links that lead outside the landing zone (a file dropped into the zone must not make the pipeline read, and
log, a file elsewhere on the machine).
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


def inside(path: Path, root: Path) -> bool:
    """Whether `path`, links followed, is `root` or lies below it."""
    return path.resolve().is_relative_to(root.resolve())


def landing_file(data_dir: Path, dataset: str, day: str) -> Path:
    """The day file of a dataset, `<data_dir>/<dataset>/<day>.jsonl`; a bad name or a link out of the zone
    is a ValueError naming it."""
    validate_dataset_name(dataset)
    if as_day(day) is None:
        raise ValueError(f"invalid day {day!r}: expected YYYY-MM-DD")
    path = Path(data_dir) / dataset / f"{day}.jsonl"
    if not inside(path, Path(data_dir)):
        raise ValueError(f"{path} leads outside the landing zone {data_dir}: refusing to read it")
    return path


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
    outside = "a link that leads outside the landing zone"
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            dataset = validate_dataset_name(folder.name)
        except SettingsError as error:
            zone.skipped.append((folder.name, str(error)))
            continue
        if not inside(folder, data_dir):
            zone.skipped.append((folder.name, outside))
            continue
        days = zone.files.setdefault(dataset, {})
        for path in sorted(folder.glob("*.jsonl")):
            day = as_day(path.stem)
            if day is None:
                zone.skipped.append((f"{dataset}/{path.name}", "the name is not a YYYY-MM-DD date"))
            elif not inside(path, data_dir):
                zone.skipped.append((f"{dataset}/{path.name}", outside))
            else:
                days[day] = path
    return zone
