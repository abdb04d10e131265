import pytest

from kura_dagster.core.privacy.scrubbing import find_personal_data, iban_valid, luhn_valid, scrub


@pytest.mark.parametrize(
    "text,placeholder",
    [
        ("write to maria.lopez@example.org please", "[EMAIL]"),
        ("call me on +44 20 7946 0958 tomorrow", "[PHONE]"),
        ("my number is (555) 123-4567", "[PHONE]"),
        ("card 4111 1111 1111 1111 was declined", "[CARD_NUMBER]"),
        ("card 4111-1111-1111-1111 exp 12/27", "[CARD_NUMBER]"),
        ("IBAN DE89 3704 0044 0532 0130 00 for the refund", "[IBAN]"),
        ("server at 192.168.12.7 refuses", "[IP_ADDRESS]"),
        ("clone https://alice:hunter2@git.example.com/repo.git", "[CREDENTIALS]"),
        ("open https://example.com/reset?token=abc123def456&x=1", "[TOKEN]"),
        ("OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwx", "[API_KEY]"),
        ("my key is AKIAIOSFODNN7EXAMPLE", "[API_KEY]"),
        ("password: Tr0ub4dor&3xyz", "[SECRET]"),
    ],
)
def test_personal_data_is_replaced_by_typed_placeholders(text, placeholder):
    scrubbed = scrub(text)
    assert placeholder in scrubbed
    assert find_personal_data(scrubbed) == []


@pytest.mark.parametrize(
    "text",
    [
        "order SH-5828100 has not arrived",  # order numbers are not cards (Luhn fails) nor phones
        "it costs 1234 dollars and weighs 12.5 kg",
        "python 3.11.7 with pandas 2.1.0",
        "card number 4111 1111 1111 1112 is wrong",  # fails Luhn
        "the merge on customer_id raises KeyError",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert scrub(text) == text


def test_checks():
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32") and not iban_valid("GB82 WEST 1234 5698 7654 33")


def test_local_facets_and_hosted_prompts_carry_no_personal_data():
    from kura_dagster.core.llm.summaries import format_conversation
    from kura_dagster.core.stages.summaries import ExtractiveSummaryModel
    from kura_dagster.core.types import Conversation, Message

    planted = (
        "My card 4111 1111 1111 1111 was charged twice, email me at jo.smith@example.com or call "
        "+1 415 555 0134. My key sk-proj-abcdefghijklmnopqrstuvwx leaked too."
    )
    conversation = Conversation(
        chat_id="p",
        created_at="2026-11-01T00:00:00Z",
        messages=[
            Message(role="user", content=planted),
            Message(role="assistant", content="Sorry!"),
            Message(role="user", content=planted),
        ],
    )
    summary = ExtractiveSummaryModel().summarise_one(conversation)
    prompt, _ = format_conversation(conversation, 10_000)
    for text in (summary.summary, summary.request, summary.task, prompt):
        assert find_personal_data(text) == [], text
        assert "4111" not in text and "jo.smith" not in text and "sk-proj" not in text
    assert "[CARD_NUMBER]" in summary.request and "[EMAIL]" in prompt


def _scrub_with_every_pattern(text: str) -> str:
    from kura_dagster.core.privacy.scrubbing import PATTERNS

    for _, pattern, replacement in PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# Fragments of every kind of personal data and of near misses, glued in random order by hypothesis.
_PIECES = [
    "maria@example.org",
    "+44 20 7946 0958",
    "(555) 123-4567",
    "4111 1111 1111 1111",
    "DE89 3704 0044 0532 0130 00",
    "192.168.1.1",
    "fe80:0:0:0:202:b3ff:fe1e:8329",
    "https://a:b@host/x",
    "?token=abc123",
    "&sig=zz",
    "sk-proj-abcdefghijklmnopqrstuvwx",
    "ghp_abcdefghijklmnopqrstuvwxyz",
    "glpat-abcdefghijklmnopqrstu",
    "xoxb-1234567890",
    "AKIAIOSFODNN7EXAMPLE",
    "AIza" + "x" * 35,
    "eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.abcdefghijkl",
    "password: hunter22",
    "secret=abcdefg",
    "-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----",
    "order 12345",
    "v3.11.7",
    "a_b",
    ":",
    "=",
    "@",
    "?",
    "&",
    ".",
    " ",
    "\n",
    "é",
    "٣",
]


def test_quick_tests_skip_only_patterns_that_cannot_match():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=400, deadline=None)
    @given(st.lists(st.one_of(st.sampled_from(_PIECES), st.text(max_size=12)), max_size=12))
    def check(pieces):
        text = "".join(pieces)
        assert scrub(text) == _scrub_with_every_pattern(text)

    check()
