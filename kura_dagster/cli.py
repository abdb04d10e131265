"""The `kura-dagster` command: a thin layer over `core` (ingest, tree) and `launch.runs` (run, demo)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import date as Date
from datetime import timedelta
from pathlib import Path

from kura_dagster.core.paths import (
    PathError,
    check_output_file,
    check_output_folder,
    explain_os_error,
    os_error_advice,
)
from kura_dagster.core.settings import Settings, SettingsError, validate_dataset_name
from kura_dagster.core.views.tree_view import STYLES


class CommandError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def _day(text: str) -> str:
    try:
        return Date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _dataset(text: str) -> str:
    try:
        return validate_dataset_name(text)
    except SettingsError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from kura_dagster.core.ingest.connectors import ConnectorOptions, parse_columns
    from kura_dagster.core.ingest.driver import ingest, signals_stop_like_ctrl_c
    from kura_dagster.launch.runs import kura_instance, register_datasets

    options = ConnectorOptions(
        columns=parse_columns(args.columns),
        default_created_at=args.default_date,
        split=args.split,
        cache_dir=settings.home / "hf_cache",
    )
    try:
        with signals_stop_like_ctrl_c():
            report = ingest(
                args.path,
                dataset=args.dataset,
                data_dir=settings.data_dir,
                quarantine_dir=settings.home / "quarantine",
                fmt=args.format,
                options=options,
                db_path=settings.duckdb_path,
            )
    except KeyboardInterrupt:
        print(
            "kura-dagster ingest: interrupted; scratch files removed. Ingest again to finish: days already "
            "merged are not duplicated.",
            file=sys.stderr,
        )
        return 130
    for rejected in report.rejected[:20]:
        print(f"rejected: {rejected.describe()}", file=sys.stderr)
    if report.quarantined > 20:
        print(f"... and {report.quarantined - 20} more rejected records", file=sys.stderr)
    if not report.balanced:  # an invariant of the loaders: say so loudly rather than lose records quietly
        raise CommandError(
            f"{args.path}: {report.input_records} records read but {report.accepted} accepted + "
            f"{report.duplicates} duplicates + {report.quarantined} quarantined do not add up"
        )
    if report.accepted == 0 and report.duplicates == 0:  # nothing landed: a mistake must not make a dataset
        what = (
            f"all {report.quarantined} records were rejected" if report.quarantined else "it holds no records"
        )
        kept = (
            f"; the rejects and their reasons are in {report.quarantine_file}"
            if report.quarantine_file
            else ""
        )
        print(
            f"kura-dagster ingest: {args.path}: {what}: nothing landed, dataset '{args.dataset}' not registered"
            f"{kept}",
            file=sys.stderr,
        )
        return 1
    register_datasets(kura_instance(settings), [args.dataset])
    print(
        f"Ingested {args.path} ({report.format}) into dataset '{args.dataset}': {report.input_records} records read, "
        f"{report.accepted} accepted, {report.duplicates} duplicates merged, {report.quarantined} quarantined"
    )
    print(
        f"  {report.accepted} accepted + {report.duplicates} duplicates merged + {report.quarantined} quarantined "
        f"= {report.input_records} records read ({report.unchanged} of the accepted were already landed unchanged)"
    )
    if report.default_created_at is not None:
        print(
            f"  conversations without a timestamp were dated {report.default_created_at.isoformat()} (--default-date)"
        )
    if report.elsewhere:
        where = ", ".join(f"{day} ({count})" for day, count in report.elsewhere.items())
        print(
            f"  {sum(report.elsewhere.values())} of the duplicates were already landed with the same content on "
            f"another day, kept there and not landed again: {where}"
        )
    if report.days:
        print(
            f"Landing zone: {settings.data_dir / args.dataset} ({len(report.days)} days: "
            f"{report.days[0]} .. {report.days[-1]})"
        )
    if report.quarantine_file:
        print(
            f"Quarantine: {report.quarantine_file} and table {report.quarantine_table} in {settings.duckdb_path}"
        )
    return 0


def _days_with_data(settings: Settings, dataset: str, days: list[str]) -> list[str]:
    from kura_dagster.core.ingest.landing import days_with_conversations

    kept, skipped = days_with_conversations(settings.data_dir, dataset, days)  # raises when none is left
    if skipped:
        shown = ", ".join(skipped[:10]) + (f" and {len(skipped) - 10} more" if len(skipped) > 10 else "")
        print(f"no conversations for {dataset} on {shown}: skipped", file=sys.stderr, flush=True)
    return kept


def _timestamp(text: str):
    from kura_dagster.core.ingest.connectors import parse_time

    try:
        return parse_time(text, "--default-date")
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or timestamp ({error})") from None


def _dates_for(args: argparse.Namespace, settings: Settings) -> list[str]:
    from kura_dagster.core.ingest.landing import scan_landing_zone

    if args.date:
        return sorted(set(args.date))
    if args.since or args.until:
        if not (args.since and args.until):
            raise CommandError("--since and --until go together")
        start, end = Date.fromisoformat(args.since), Date.fromisoformat(args.until)
        if end < start:
            raise CommandError(f"--until {args.until} is before --since {args.since}")
        return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    dates = scan_landing_zone(settings.data_dir).dates(args.dataset)
    if not dates:
        raise CommandError(f"no daily files in {settings.data_dir / args.dataset}; ingest data first")
    return dates


def _print_run(results: list, positions: list[int], total: int) -> None:
    """One line per run, with its own time: a run over a date range covers several days at once."""
    first, last = results[0], results[-1]
    where = f"{positions[0]}" if len(results) == 1 else f"{positions[0]}-{positions[-1]}"
    days = first.date if len(results) == 1 else f"{first.date}..{last.date}"
    status = "ok" if first.success else "FAILED"
    run = f"run {first.run_id[:8]}" if first.run_id else "no run"
    print(f"[{where}/{total}] {first.dataset} {days}: {status} in {first.seconds:.1f}s ({run})", flush=True)
    if first.error:
        print(f"    {first.error}", file=sys.stderr, flush=True)


def _notice(line: str) -> None:
    print(line, flush=True)


def _run(settings: Settings, partitions: list[tuple[str, str]]) -> list:
    """Materialise `partitions` as one Dagster backfill in the persistent instance (visible in the UI).

    With `make dev` running, its daemon launches the runs and this command follows them; otherwise the
    command launches them itself, up to KURA_MAX_CONCURRENT at a time, and waits for the last one.
    """
    from kura_dagster.launch.runs import check_partitions, kura_instance, run_partitions, today_notice

    partitions = check_partitions(partitions, settings)  # a bad day is refused before anything starts
    instance = kura_instance(settings)
    print(
        f"Materialising the pipeline (6 stages, taxonomy, topic_assignments, topic_trends, report) for {len(partitions)} partition(s) through Dagster "
        f"(instance: {settings.dagster_home})",
        flush=True,
    )
    if (today := today_notice(partitions)) is not None:
        _notice(today)

    def submitted(backfill_id: str, daemon_running: bool) -> None:
        driver = (
            "the running dagster-daemon launches its runs"
            if daemon_running
            else f"this command launches its runs, up to {settings.max_concurrent} at a time"
        )
        print(f"Backfill {backfill_id}: {driver}", flush=True)

    from kura_dagster.launch.backfills import BackfillError

    try:
        return run_partitions(
            instance,
            partitions,
            settings=settings,
            max_concurrent=settings.max_concurrent,
            on_done=_print_run,
            on_submitted=submitted,
            on_notice=_notice,
        )
    except BackfillError as error:
        raise CommandError(str(error)) from None


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from kura_dagster.launch.runs import require_known_dataset

    require_known_dataset(settings, args.dataset)
    partitions = [
        (args.dataset, day) for day in _days_with_data(settings, args.dataset, _dates_for(args, settings))
    ]
    started = time.monotonic()
    results = _run(settings, partitions)
    failed = [r for r in results if not r.success]
    print(
        f"{len(results) - len(failed)} of {len(results)} partitions materialised in "
        f"{time.monotonic() - started:.1f}s; DuckDB: {settings.duckdb_path}"
    )
    if failed:
        print(
            f"Failed: {', '.join(f'{r.dataset} {r.date}' for r in failed)} (details in the Dagster UI: make dev)",
            file=sys.stderr,
        )
    return 1 if failed else 0


def _load_tree(settings: Settings, dataset: str, day: str):
    from kura_dagster.core.storage import tables
    from kura_dagster.core.storage.store import read_table

    table = read_table(settings.duckdb_path, "meta_clusters", dataset, day)
    if table.num_rows == 0:
        raise CommandError(
            f"no tree for dataset '{dataset}' on {day}: run `kura-dagster run --dataset {dataset} "
            f"--date {day}` first (or that day had no conversations)"
        )
    return tables.clusters_from_arrow(table)


def _hidden_note(settings: Settings, dataset: str, day: str, nodes) -> str:
    """The line under a tree about conversations the privacy thresholds hide (core.views.tree_view)."""
    from datetime import date as Date

    from kura_dagster.core.privacy.thresholds import Thresholds
    from kura_dagster.core.storage import tables
    from kura_dagster.core.storage.store import connect, read_partition
    from kura_dagster.core.views.tree_view import hidden_note

    with connect(settings.duckdb_path, read_only=True) as connection:
        summaries = read_partition(
            connection, "summaries", dataset, Date.fromisoformat(day), ["chat_id", "metadata"]
        )
    thresholds = Thresholds(settings.min_cluster_size, settings.min_cluster_users)
    rerun = f"kura-dagster run --dataset {dataset} --date {day}"
    return hidden_note(nodes, thresholds, tables.user_ids_from_arrow(summaries), rerun=rerun)


def cmd_tree(args: argparse.Namespace, settings: Settings) -> int:
    from kura_dagster.core.ingest.landing import require_day
    from kura_dagster.core.views.tree_view import render_tree
    from kura_dagster.launch.runs import require_known_dataset

    require_known_dataset(settings, args.dataset)
    require_day(settings.data_dir, settings.duckdb_path, args.dataset, args.date)
    nodes = _load_tree(settings, args.dataset, args.date)
    note = _hidden_note(settings, args.dataset, args.date, nodes)
    print(render_tree(nodes, args.style, colour=sys.stdout.isatty(), note=note), end="")
    return 0


def _topics_view(args: argparse.Namespace, settings: Settings):
    from kura_dagster.core.views.topic_view import load_topics_view
    from kura_dagster.launch.runs import require_known_dataset

    require_known_dataset(settings, args.dataset)
    return load_topics_view(
        settings.duckdb_path, args.dataset, Date.fromisoformat(args.date) if args.date else None
    )


def cmd_topics(args: argparse.Namespace, settings: Settings) -> int:
    from kura_dagster.core.views.topic_view import render_topics

    print(render_topics(_topics_view(args, settings)))
    return 0


def cmd_trends(args: argparse.Namespace, settings: Settings) -> int:
    from kura_dagster.core.stages.topic_trends import TrendOptions
    from kura_dagster.core.views.topic_view import render_trends

    print(render_trends(_topics_view(args, settings), TrendOptions.from_settings(settings)))
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    """Register the landing zone's datasets, run every partition, print a summary and the trees."""
    from kura_dagster.core.ingest.landing import scan_landing_zone
    from kura_dagster.core.storage.store import connect, qualified
    from kura_dagster.core.views.explorer import report_path
    from kura_dagster.core.views.tree_view import render_tree

    started = time.monotonic()
    zone = scan_landing_zone(settings.data_dir)
    datasets = zone.datasets
    if not datasets:
        raise CommandError(
            f"no datasets in {settings.data_dir}: expected folders like data/<dataset>/<date>.jsonl"
        )
    from kura_dagster.launch.runs import (
        check_partitions,
        kura_instance,
        run_partitions_in_process,
        today_notice,
    )

    partitions = check_partitions(
        [(dataset, day) for dataset in datasets for day in zone.dates(dataset)], settings
    )

    print(
        f"Materialising the pipeline (6 stages, taxonomy, topic_assignments, topic_trends, report) for {len(partitions)} partitions through "
        f"Dagster, in this process, up to {settings.partitions_per_run} days per run "
        f"(instance: {settings.dagster_home})",
        flush=True,
    )
    if (today := today_notice(partitions)) is not None:
        _notice(today)
    results = run_partitions_in_process(
        kura_instance(settings),
        partitions,
        settings=settings,
        max_days_per_run=settings.partitions_per_run,
        on_done=_print_run,
        on_notice=_notice,
    )
    failed = [r for r in results if not r.success]
    with connect(settings.duckdb_path, read_only=True) as connection:
        counts = {
            name: connection.execute(f"SELECT count(*) FROM {qualified(connection, name)}").fetchall()[0][0]
            for name in (
                "conversations",
                "summaries",
                "embeddings",
                "base_clusters",
                "meta_clusters",
                "projections",
            )
        }
        roots = connection.execute(
            f"SELECT count(*) FROM {qualified(connection, 'meta_clusters')} WHERE parent_id IS NULL"
        ).fetchall()[0][0]
    rule = "=" * 60
    print(f"\n{rule}\n{'KURA-DAGSTER DEMO SUMMARY':^60}\n{rule}")
    print(f"• Datasets: {', '.join(datasets)} ({len(partitions)} partitions, {len(failed)} failed)")
    print(f"• Conversations loaded: {counts['conversations']:,}")
    print(f"• Summaries: {counts['summaries']:,}")
    print(f"• Embeddings: {counts['embeddings']:,}")
    print(f"• Base clusters: {counts['base_clusters']:,}")
    print(
        f"• Meta clusters (tree nodes above the leaves): {counts['meta_clusters'] - counts['base_clusters']:,}"
    )
    print(f"• Root clusters: {roots:,}")
    print(f"• Projected nodes: {counts['projections']:,}")
    print(f"• DuckDB file: {settings.duckdb_path}")
    print(f"• Dagster instance: {settings.dagster_home} (open it with `make dev`)")
    print(f"• Time: {time.monotonic() - started:.1f}s")
    for dataset in datasets:
        day = zone.dates(dataset)[-1]
        print(f"\n{rule}\nTopic tree of {dataset} on {day}\n{rule}")
        nodes = _load_tree(settings, dataset, day)
        print(render_tree(nodes, "basic", note=_hidden_note(settings, dataset, day, nodes)), end="")
        page = report_path(settings.home, dataset, day)
        if page.exists():
            print(f"Explorer (map, tree, details, topics over time; opens offline): {page}")
    return 1 if failed else 0


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from kura_dagster.core.ingest.landing import require_day
    from kura_dagster.core.storage.export import export_partition
    from kura_dagster.launch.runs import require_known_dataset

    require_known_dataset(settings, args.dataset)
    require_day(settings.data_dir, settings.duckdb_path, args.dataset, args.date)
    counts = export_partition(
        settings.duckdb_path, args.dataset, args.date, args.out, args.format
    )  # all or nothing
    for name, count in counts.items():
        print(f"{args.out / name}: {count} rows")
    return 0


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from kura_dagster.core.ingest.landing import require_day
    from kura_dagster.core.privacy.thresholds import Thresholds
    from kura_dagster.core.views.explorer import report_path, write_report
    from kura_dagster.launch.runs import require_known_dataset

    require_known_dataset(settings, args.dataset)
    require_day(settings.data_dir, settings.duckdb_path, args.dataset, args.date)
    out = args.out or report_path(settings.home, args.dataset, args.date)
    try:
        result = write_report(
            settings.duckdb_path,
            args.dataset,
            args.date,
            out,
            include_messages=settings.report_include_messages,
            thresholds=Thresholds(settings.min_cluster_size, settings.min_cluster_users),
        )
    except FileNotFoundError:
        raise  # no DuckDB file yet: its own message
    except (
        OSError
    ) as error:  # disk full, a folder in the way, no permission: the page is written whole or not at all
        # the error names the page's temporary file: name the page
        raise CommandError(f"{out}: {os_error_advice(error)}; a page already there is unchanged") from None
    trends = (
        "with topics over time" if result.has_trends else "no topic trends yet (materialise topic_trends)"
    )
    print(
        f"{result.path}: {result.conversations:,} conversations, {result.clusters:,} clusters, {trends}; "
        f"{result.bytes / 1e6:.2f} MB in {result.seconds:.2f}s. Open it in a browser (it works offline)."
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kura-dagster",
        description="Clio-style analysis of chat conversations as partitioned Dagster assets in DuckDB. "
        "Settings come from the environment and .env (KURA_HOME, KURA_DATA_DIR, KURA_LLM, ...).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    ingest = commands.add_parser(
        "ingest", help="normalise an export into the landing zone and register the dataset"
    )
    ingest.add_argument(
        "path",
        type=Path,
        help="the export: a file (JSON, JSONL, CSV, Parquet, a .zip export), an "
        "export folder, a saved Hugging Face dataset, or with --format hf a hub name",
    )
    ingest.add_argument("--dataset", required=True, type=_dataset, help="dataset name: a-z, 0-9, '_' and '-'")
    ingest.add_argument(
        "--format",
        default="auto",
        choices=("auto", "kura", "jsonl", "claude", "chatgpt", "openai", "sharegpt", "parquet", "csv", "hf"),
        help="input format (default: auto, detected from the file)",
    )
    ingest.add_argument(
        "--columns",
        default="",
        metavar="KEY=COLUMN,...",
        help="table columns: chat_id, created_at, messages, role, content, metadata, order "
        "(e.g. chat_id=id,created_at=ts,messages=msgs)",
    )
    ingest.add_argument(
        "--default-date",
        type=_timestamp,
        default=None,
        metavar="DATE",
        help="the day of conversations whose export has no timestamps (OpenAI messages, "
        "ShareGPT): required for such an export",
    )
    ingest.add_argument("--split", default="train", help="split of a Hugging Face dataset (default: train)")
    ingest.set_defaults(handler=cmd_ingest)

    run = commands.add_parser("run", help="materialise every asset for some partitions through Dagster")
    run.add_argument("--dataset", required=True, type=_dataset)
    when = run.add_mutually_exclusive_group()
    when.add_argument("--date", type=_day, nargs="+", help="one or more days (YYYY-MM-DD)")
    when.add_argument("--since", type=_day, help="first day of a range (with --until)")
    when.add_argument(
        "--all", action="store_true", help="every day with a file in the landing zone (the default)"
    )
    run.add_argument("--until", type=_day, help="last day of a range (with --since)")
    run.set_defaults(handler=cmd_run)

    tree = commands.add_parser("tree", help="print the topic tree of one partition")
    tree.add_argument("--dataset", required=True, type=_dataset)
    tree.add_argument("--date", required=True, type=_day)
    tree.add_argument("--style", default="basic", choices=STYLES, help="Kura's three styles (default: basic)")
    tree.set_defaults(handler=cmd_tree)

    topics = commands.add_parser(
        "topics", help="print the dataset's taxonomy with each topic's status and change"
    )
    topics.add_argument("--dataset", required=True, type=_dataset)
    topics.add_argument("--date", type=_day, help="the version in force on this day (default: the latest)")
    topics.set_defaults(handler=cmd_topics)

    trends = commands.add_parser("trends", help="list the topics that are new, emerging, fading and gone")
    trends.add_argument("--dataset", required=True, type=_dataset)
    trends.add_argument("--date", type=_day, help="the day judged (default: the latest taxonomy version's)")
    trends.set_defaults(handler=cmd_trends)

    report = commands.add_parser("report", help="write the HTML explorer of one partition (one offline file)")
    report.add_argument("--dataset", required=True, type=_dataset)
    report.add_argument("--date", required=True, type=_day)
    report.add_argument(
        "--out",
        type=Path,
        default=None,
        help="the file to write (default: $KURA_HOME/reports/<dataset>/<date>.html)",
    )
    report.set_defaults(handler=cmd_report)

    export = commands.add_parser(
        "export", help="write one partition as Kura checkpoint files, Parquet or CSV"
    )
    export.add_argument("--dataset", required=True, type=_dataset)
    export.add_argument("--date", required=True, type=_day)
    export.add_argument(
        "--format",
        default="kura",
        choices=("kura", "parquet", "csv"),
        help="kura: Kura's checkpoint JSONL files, loadable by Kura's UI (default)",
    )
    export.add_argument("--out", required=True, type=Path, help="the folder to write")
    export.set_defaults(handler=cmd_export)

    demo = commands.add_parser(
        "demo", help="run every partition of the landing zone and print a summary and trees"
    )
    demo.set_defaults(handler=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    # WordLlama calls logging.basicConfig(level=INFO) on import, which would flood the terminal with
    # other libraries' INFO lines; configuring the root logger first makes that call a no-op.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
        settings.prepare_home()
        _check_paths(args, settings)
        return args.handler(args, settings)
    except (CommandError, SettingsError, PathError, FileNotFoundError, ValueError) as error:
        print(f"kura-dagster {args.command}: error: {error}", file=sys.stderr)
        return 2
    except (
        OSError
    ) as error:  # a write that failed anyway (a disk filling up): where and what to do, no traceback
        if isinstance(error, BrokenPipeError) and _reader_gone():
            # The reader stopped early (`kura-dagster trends | head`): stop quietly, as other tools do. Python
            # flushes stdout once more at exit; pointing it at /dev/null keeps that from reporting it too.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 141  # 128 + SIGPIPE: what a shell reports for a tool its pipe stopped
        print(
            f"kura-dagster {args.command}: error: {explain_os_error(error, getattr(args, 'out', None))}",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt as interrupted:  # Ctrl-C, SIGTERM: the runs were stopped on the way out
        print(
            f"kura-dagster {args.command}: interrupted{': ' + str(interrupted) if str(interrupted) else ''}",
            file=sys.stderr,
        )
        return 130


def _reader_gone() -> bool:
    """Whether stdout is a pipe whose reader has closed it (poll reports an error on its write end), so that a
    broken pipe elsewhere (a child process, a socket) is still reported as the error it is."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (OSError, ValueError, AttributeError):  # no poll on this platform, or stdout is no file
        return False


def _check_paths(args: argparse.Namespace, settings: Settings) -> None:
    """Before any work: the DuckDB file is whole (never written to otherwise) and `--out` can be written."""
    from kura_dagster.core.storage.store import check_database_file

    check_database_file(settings.duckdb_path)
    if getattr(args, "out", None) is not None:
        (check_output_folder if args.command == "export" else check_output_file)(args.out)


if __name__ == "__main__":
    sys.exit(main())
