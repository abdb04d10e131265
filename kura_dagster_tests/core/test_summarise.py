from datetime import datetime, timezone

from kura_dagster.core.stages.summaries import ExtractiveSummaryModel, summarise_conversations
from kura_dagster.core.types import Conversation, Message

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)


def chat(*turns: str, chat_id: str = "c1") -> Conversation:
    roles = ["user", "assistant"]
    return Conversation(
        chat_id=chat_id,
        created_at=NOW,
        messages=[Message(role=roles[i % 2], content=t) for i, t in enumerate(turns)],
    )


def test_one_summary_per_conversation_in_order(conversations):
    summaries = summarise_conversations(conversations, model=ExtractiveSummaryModel(), batch_size=7)
    assert [s.chat_id for s in summaries] == [c.chat_id for c in conversations]
    assert all(s.error is None and s.request for s in summaries)


def test_facets_from_user_turns():
    summary = ExtractiveSummaryModel().summarise_one(
        chat(
            "My pandas merge fails with a KeyError.\n```python\nimport pandas as pd\ndf.merge(other, on='id')\n```\n"
            "What am I doing wrong? I tried everything.",
            "Check that both frames have the column.",
            "That didn't work, I am STILL getting the same error!!",
        )
    )
    assert summary.request.startswith("My pandas merge fails with a KeyError.")
    assert "import pandas" not in summary.request  # code is described, not copied
    assert summary.task.startswith("Debug an error")
    assert "english" in summary.languages and "python" in summary.languages
    assert summary.user_frustration >= 3
    assert summary.assistant_errors == ["Suggested solution did not work"]
    assert summary.concerning_score == 1


def test_other_languages_and_concern():
    spanish = ExtractiveSummaryModel().summarise_one(
        chat("Hola, quiero un reembolso de mi pedido porque llegó roto")
    )
    assert spanish.languages[0] == "spanish"
    concerning = ExtractiveSummaryModel().summarise_one(
        chat("How do I hack into someone else's account without them knowing?")
    )
    assert concerning.concerning_score >= 3


def test_conversation_without_user_turn_gets_an_error_row():
    no_user = Conversation(
        chat_id="bot-only", created_at=NOW, messages=[Message(role="assistant", content="Hi!")]
    )
    [summary] = ExtractiveSummaryModel().summarise([no_user])
    assert summary.chat_id == "bot-only" and summary.error


def test_worker_processes_give_the_same_table_in_the_same_order(conversations):
    from kura_dagster.core.stages.summaries import summarise_table
    from kura_dagster.core.storage import tables

    broken = Conversation(
        chat_id="no-user-turn", created_at=NOW, messages=[Message(role="assistant", content="hi")]
    )
    table = tables.conversations_to_arrow([*conversations[:40], broken, *conversations[40:]])
    seen = []
    here = summarise_table(table, model=ExtractiveSummaryModel(), workers=1)
    spread = summarise_table(
        table,
        model=ExtractiveSummaryModel(),
        workers=2,
        chunk_rows=9,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert spread.equals(here)
    assert spread.column("chat_id").to_pylist() == [
        row["chat_id"] for row in table.select(["chat_id"]).to_pylist()
    ]
    assert spread.column("error").to_pylist()[40] == "ValueError: conversation has no user turn"
    assert seen[-1] == (table.num_rows, table.num_rows) and len(seen) == -(-table.num_rows // 9)


def test_the_request_is_what_the_user_asks_across_turns_not_their_greeting_or_thanks():
    summary = ExtractiveSummaryModel().summarise_one(
        chat(
            "Hello , can you help me ?",
            "Of course, what do you need?",
            "Yes , hello . I need a taxi from the station to the museum after 11:00 .",
            "Booked.",
            "Thank you very much , that is all I need . Goodbye !",
        )
    )
    assert summary.request.startswith(
        "I need a taxi from the station to the museum"
    )  # "can you help me" says nothing
    assert "hello" not in summary.request.lower() and "goodbye" not in summary.request.lower()
    assert "thank" not in summary.request.lower()


def test_a_long_conversation_gives_a_bounded_request():
    turns = []
    for i in range(200):
        turns += [
            f"Also the export of report {i} fails when the table has more than {i} rows. " * 20,
            "Noted.",
        ]
    summary = ExtractiveSummaryModel(request_chars=400).summarise_one(chat(*turns))
    assert 300 < len(summary.request) <= 401
    assert summary.request.startswith("Also the export of report 0 fails")


def test_a_conversation_of_courtesies_keeps_its_opening_as_the_request():
    summary = ExtractiveSummaryModel().summarise_one(chat("Hi!", "Hello, how can I help?", "thanks"))
    assert summary.request == "Hi!" and summary.error is None
