"""Normalise an export into the landing zone: `data/<dataset>/<YYYY-MM-DD>.jsonl`, one file per UTC day.

Ingesting is idempotent: records already in a day's file are merged by chat_id (identical content kept
once), and the file is rewritten sorted, so the same export ingested twice changes nothing. Every input
record ends up either in the landing zone or in the quarantine file with its reason.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kura_dagster.core.loaders import LoadResult, Rejected, load_jsonl, load_kura_dump_result
from kura_dagster.core.settings import validate_dataset_name
from kura_dagster.core.types import Conversation

FORMATS = ("auto", "kura", "jsonl")


@dataclass
class IngestReport:
    dataset: str
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejected] = field(default_factory=list)
    days: list[str] = field(default_factory=list)
    quarantine_file: Path | None = None

    @property
    def input_records(self) -> int:
        return self.accepted + self.duplicates + len(self.rejected)


def detect_format(path: Path) -> str:
    """`kura` for a JSON document (Kura's dump), `jsonl` for one object per line."""
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
    if head.startswith(b"["):
        return "kura"
    if head.startswith(b"{"):
        # A JSON object spanning lines is a document; a complete object on the first line is JSONL.
        first_line = head.split(b"\n", 1)[0]
        try:
            json.loads(first_line)
            return "jsonl"
        except ValueError:
            return "kura"
    raise ValueError(f"{path}: cannot tell the format (neither a JSON list nor JSON lines); pass --format")


def load_export(path: str | Path, fmt: str = "auto") -> LoadResult:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}: expected one of {', '.join(FORMATS)}")
    fmt = detect_format(path) if fmt == "auto" else fmt
    return load_kura_dump_result(path) if fmt == "kura" else load_jsonl(path)


def conversation_line(conversation: Conversation) -> str:
    record = conversation.model_dump(mode="json", exclude_none=True)
    return json.dumps(record, ensure_ascii=False, sort_keys=True)


def write_landing_zone(conversations: Sequence[Conversation], data_dir: Path, dataset: str) -> tuple[int, int, list[str]]:
    """Merge conversations into their day files; returns (written, duplicates, days touched)."""
    validate_dataset_name(dataset)
    folder = Path(data_dir) / dataset
    folder.mkdir(parents=True, exist_ok=True)
    by_day: dict[str, dict[str, str]] = defaultdict(dict)
    duplicates = 0
    for conversation in conversations:
        day = conversation.created_at.date().isoformat()
        line = conversation_line(conversation)
        known = by_day[day].get(conversation.chat_id)
        if known is None:
            by_day[day][conversation.chat_id] = line
        elif known == line:
            duplicates += 1  # the same record twice: kept once
        else:
            # Same id, different content: keep both, the newcomer under a disambiguated id.
            suffix = 2
            while f"{conversation.chat_id}~{suffix}" in by_day[day]:
                suffix += 1
            renamed = conversation.model_copy(update={"chat_id": f"{conversation.chat_id}~{suffix}"})
            by_day[day][renamed.chat_id] = conversation_line(renamed)
    for day, lines in by_day.items():
        path = folder / f"{day}.jsonl"
        merged: dict[str, str] = {}
        if path.exists():
            for existing in load_jsonl(path).conversations:
                merged[existing.chat_id] = conversation_line(existing)
        merged.update(lines)
        ordered = sorted(merged.items(), key=lambda item: (json.loads(item[1])["created_at"], item[0]))
        temporary = path.with_suffix(".jsonl.tmp")
        temporary.write_text("".join(line + "\n" for _, line in ordered), encoding="utf-8")
        temporary.replace(path)
    return len(conversations) - duplicates, duplicates, sorted(by_day)


def write_quarantine(rejected: Sequence[Rejected], quarantine_dir: Path, dataset: str) -> Path | None:
    """Append rejected records with their reasons to `<quarantine_dir>/<dataset>.jsonl`."""
    if not rejected:
        return None
    quarantine_dir.mkdir(parents=True, exist_ok=True)
    path = quarantine_dir / f"{dataset}.jsonl"
    with path.open("a", encoding="utf-8") as handle:
        for item in rejected:
            handle.write(json.dumps({"source": item.source, "record": item.record, "reason": item.reason,
                                     "raw": item.raw}, ensure_ascii=False) + "\n")
    return path


def ingest(path: str | Path, *, dataset: str, data_dir: Path, quarantine_dir: Path, fmt: str = "auto") -> IngestReport:
    """Read an export, write its good records to the landing zone and its bad ones to the quarantine."""
    validate_dataset_name(dataset)
    loaded = load_export(path, fmt)
    written, duplicates, days = write_landing_zone(loaded.conversations, data_dir, dataset)
    report = IngestReport(dataset=dataset, accepted=written, duplicates=duplicates, rejected=loaded.rejected, days=days)
    report.quarantine_file = write_quarantine(loaded.rejected, quarantine_dir, dataset)
    return report
