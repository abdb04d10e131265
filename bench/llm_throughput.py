"""Summary throughput of the hosted path against the loopback OpenAI-compatible server.

With 200 ms per call and 20 calls in flight the bound is 100 calls/s; the pipeline should reach at least
90% of it. The real `openai` client, the real summary model and the real retry/concurrency code run; only
the model behind the endpoint is the test server.

    python bench/llm_throughput.py [--conversations 2000] [--latency 0.2] [--concurrency 20] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the test server lives in the test package

import openai  # noqa: E402

from kura_dagster.core.llm.client import LLMClient  # noqa: E402
from kura_dagster.core.llm.summaries import OpenAISummaryModel  # noqa: E402
from kura_dagster.core.types import Conversation, Message  # noqa: E402
from kura_dagster_tests.fake_openai import FakeOpenAIServer  # noqa: E402


def conversations(count: int, run: int) -> list[Conversation]:
    # Distinct texts per run, so no answer comes from a cache or an in-flight twin.
    return [
        Conversation(
            chat_id=f"c{i}",
            created_at="2026-11-01T00:00:00Z",
            messages=[
                Message(role="user", content=f"Run {run}: how do I fix error number {i} in my build?"),
                Message(role="assistant", content="Try clearing the cache and rebuilding."),
            ],
        )
        for i in range(count)
    ]


def measure(count: int, latency: float, concurrency: int, run: int) -> dict:
    with FakeOpenAIServer(latency_s=latency) as server:
        client = LLMClient(
            lambda: openai.AsyncOpenAI(base_url=server.base_url, api_key="bench", max_retries=0),
            concurrency=concurrency,
        )
        model = OpenAISummaryModel(client)
        batch = conversations(count, run)
        started = time.perf_counter()
        summaries = model.summarise(batch)
        seconds = time.perf_counter() - started
        assert sum(1 for s in summaries if s.error is None) == count
        return {
            "seconds": seconds,
            "calls": server.calls["chat"],
            "calls_per_s": server.calls["chat"] / seconds,
            "max_in_flight": server.max_in_flight,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=REPO / "bench" / "results" / "llm_throughput.json")
    args = parser.parse_args(argv)
    bound = args.concurrency / args.latency
    runs = [measure(args.conversations, args.latency, args.concurrency, run) for run in range(args.repeats)]
    median = statistics.median(r["calls_per_s"] for r in runs)
    result = {
        "conversations": args.conversations,
        "latency_s": args.latency,
        "concurrency": args.concurrency,
        "bound_calls_per_s": bound,
        "median_calls_per_s": median,
        "share_of_bound": median / bound,
        "runs": runs,
    }
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    print(
        f"{args.conversations} conversations, {args.latency * 1000:.0f} ms per call, concurrency {args.concurrency}"
    )
    for i, r in enumerate(runs, start=1):
        print(
            f"  run {i}: {r['seconds']:.2f} s, {r['calls_per_s']:.1f} calls/s, max in flight {r['max_in_flight']}"
        )
    print(f"median {median:.1f} calls/s = {median / bound:.1%} of the {bound:.0f} calls/s bound")
    return 0 if median >= 0.9 * bound else 1


if __name__ == "__main__":
    sys.exit(main())
