"""The instance's run queue: one run of a dataset at a time, in the order its runs were queued.

Why: each day's `taxonomy` version is built from the previous day's, which an earlier run of the same dataset
writes (defs/topics.py). A backfill over a date range is several runs (KURA_PARTITIONS_PER_RUN days each);
with the queue free to start two of them at once, a later range could read an older predecessor.

How, with Dagster's own queue: the instance config (`launch/instance.py`) limits the runs in progress to one
per value of the `kura/dataset` tag (`tag_concurrency_limits`, `applyLimitPerUniqueValue`), and the queue
daemon starts queued runs oldest first, skipping a run whose dataset already has one in progress (a skipped
run also blocks the later runs of its dataset, so they never overtake it). Dagster tags a run of one
partition with its partition but a run of a date range only with the range's first and last keys, and
none of these names the dataset alone: `KuraRunCoordinator` adds the tag as each run enters the queue.
Runs arrive in date order: the backfill daemon submits a dataset's ranges first day first, and the
landing-zone sensor requests a dataset's days in date order. Different datasets still run side by side.

The exception, which this does not fix: a backfill that selects more datasets than days. Dagster then cuts
it into one run per day spanning the datasets (`DefaultPartitionsSubset.get_partition_key_ranges` groups by
the dimension with fewer keys) and submits those runs in the order of a Python set, not by date. Such runs
are tagged with their first dataset, so they still go one at a time, but possibly a later day first.
"""

from __future__ import annotations

from collections.abc import Mapping

from dagster import DagsterRun, QueuedRunCoordinator, SubmitRunContext

from kura_dagster.launch.dagster_private import ASSET_PARTITION_RANGE_START_TAG, PARTITION_NAME_TAG

DATASET_TAG = "kura/dataset"


def dataset_of_run(tags: Mapping[str, str]) -> str | None:
    """The dataset of a pipeline run: that of its partition, or of its range's first partition (keys are
    `dataset|date`, defs/partitions.py); None for a run of no partition."""
    key = tags.get(PARTITION_NAME_TAG) or tags.get(ASSET_PARTITION_RANGE_START_TAG)
    return key.split("|", 1)[0] if key and "|" in key else None


class KuraRunCoordinator(QueuedRunCoordinator):
    """Dagster's run queue, with each queued run tagged with its dataset (`kura/dataset`)."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        dataset = dataset_of_run(run.tags)
        # Tagged before it is queued, so the queue daemon never sees the run without its dataset.
        if dataset is not None and run.tags.get(DATASET_TAG) != dataset:
            self._instance.add_run_tags(run.run_id, {DATASET_TAG: dataset})
        return super().submit_run(context)
