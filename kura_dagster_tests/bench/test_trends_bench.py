"""The trends benchmark's per-theme report: the embeddings' kNN label agreement, and its table."""

import numpy as np
import pytest

from kura_dagster_tests.bench import load_bench


@pytest.fixture(scope="module")
def bench():
    return load_bench("trends_bench", "trends.py"), load_bench("e2e_trends")


def test_agreement_is_high_for_a_separate_theme_and_low_for_one_among_others(bench):
    trends, e2e = bench
    rng = np.random.default_rng(0)
    centre = {"apart": np.eye(8)[0], "steady": np.eye(8)[1], "mixed": np.eye(8)[1]}  # mixed sits on steady
    days, cache = [[]], {}
    for label in centre:
        for i in range(12):
            text = f"{label} {i}"
            cache[text] = (None, centre[label] + 0.05 * rng.standard_normal(8))
            days[0].append((f"c-{label}-{i}", text, label))
    run = trends.Run("toy", 0, False, {"emerging_3": "apart", "fading": "mixed"}, days)
    agreement = e2e.label_agreement(run, cache, k=5)
    assert agreement["emerging_3"] == 1.0
    assert agreement["fading"] < 0.7  # its nearest texts are about half steady's


def test_the_table_lists_each_theme_with_its_agreement_and_flagged_days(bench):
    trends, _ = bench
    tally = trends.Tally()
    run = trends.Run("toy", 3, False, {"emerging_3": "pets"}, [[]])
    tally.add(
        {"hits": {"emerging_3": 2}, "right": 2, "wrong": 0, "false": []}, False, run, {"emerging_3": 0.41}
    )
    lines = trends.theme_lines({"toy": {"e2e-window": tally.figures()}})
    assert "| emerging_3 | 3 | pets | 0.41 | 2 |" in lines
    # rows without a measured agreement (oracle modes) make no table
    assert trends.theme_lines({"toy": {"oracle": trends.Tally().figures()}}) == []


def test_a_null_run_counts_each_topic_once_a_day_as_an_alert_and_every_row_as_a_flag(bench):
    trends, _ = bench
    tally = trends.Tally()
    run = trends.Run("toy", 0, True, {}, [[]])
    false = [
        (20, "unassigned@0", "fading"),  # one series at three levels: one alert
        (20, "unassigned@1", "fading"),
        (20, "unassigned@2", "fading"),
        (20, "t00007@1", "emerging"),
        (21, "t00007@1", "emerging"),  # the next day: another alert
    ]
    tally.add({"hits": {}, "right": 0, "wrong": len(false), "false": false}, True, run)
    hits = dict.fromkeys(trends.PLANTED, 1)
    tally.add({"hits": hits, "right": 3, "wrong": 0, "false": []}, False)  # its run with planted themes
    figures = tally.figures()
    days = trends.DAYS - trends.FIRST_JUDGED
    assert (figures["null_flags"], figures["null_alerts"], figures["null_days"]) == (5, 3, days)
    assert figures["false_alerts_per_7_days_null"] == round(7 * 3 / days, 3)
    pooled = trends.pooled({**figures, "seeds": [0]}, {**figures, "seeds": [1]})
    assert (pooled["null_alerts"], pooled["false_alerts_per_7_days_null"]) == (
        6,
        round(7 * 6 / (2 * days), 3),
    )
