"""Local names: phrases people share, never a keyword list, a quoted request or a specific about someone."""

import numpy as np

from kura_dagster.core.stages.naming import (
    KeywordClusterNamer,
    PhraseIndex,
    acronyms,
    group_phrases,
    name_groups,
    phrases,
    specific_words,
)
from kura_dagster.core.types import ConversationSummary


def test_words_written_capitalised_inside_sentences_are_specifics_but_technology_and_german_nouns_are_not():
    texts = [
        "My order to Detroit never came, says Morgan.",
        "the parcel for Morgan is stuck near Detroit",
        "I use React and Docker at work",
        "react state is stale",
        "Wo bleibt meine Bestellung? Die Sendung ist weg",
        "please cancel my subscription",
    ]
    found = specific_words(texts)
    assert {"detroit", "morgan", "tuesday", "march"} <= found
    assert not {"react", "docker", "bestellung", "sendung", "order", "subscription", "parcel"} & found


def test_numbers_ids_placeholders_and_specifics_break_phrases():
    keys = [
        key
        for key, _ in phrases(
            "Refund for order SH-1968732 of €19.99 to [EMAIL] please, from Detroit now",
            frozenset({"detroit"}),
        )
    ]
    assert "refund order" in keys  # "refund for order": connectors kept in the surface, not in the key
    assert not [k for k in keys if any(ch.isdigit() for ch in k) or "detroit" in k or "email" in k]


def test_what_follows_an_intent_cue_is_counted_with_the_verb_it_implies():
    cued = dict(
        p
        for p in phrases("Hi, how do I center a div with CSS? I'm looking for a cheap hotel")
        if p[0].endswith("+")
    )
    assert cued["center div+"] == "center a div" and cued["cheap hotel+"] == "find a cheap hotel"


def test_a_group_is_named_by_a_phrase_its_people_share_not_a_keyword_list():
    refunds = [f"I want to cancel my subscription, I was charged again{'!' * i}" for i in range(6)] + [
        "please cancel my subscription now",
        "charged twice this month, cancel my subscription",
    ]
    passwords = [
        "the password reset email never arrives",
        "password reset email never arrives again",
        "my password reset email never arrives",
        "reset link expired",
    ] * 2
    users = [[f"u{i}" for i in range(len(refunds))], [f"v{i}" for i in range(len(passwords))]]
    names = name_groups(
        [refunds, passwords], [["Cancel or change a subscription: x"] * 8, [""] * 8], group_users=users
    )
    assert names[0].name == "Cancel my subscription"
    assert names[1].name == "Password reset email never arrives"
    assert names[0].description.startswith("8 conversations, most of them asking to cancel or change")
    assert "\u201ccancel my subscription\u201d" in names[0].description
    # Shared phrases, never one member's sentence (a short request may itself be a phrase others share).
    assert not [
        text
        for text in refunds + passwords
        if len(text.split()) > 4 and text in names[0].description + names[1].description
    ]


def test_one_person_repeating_a_phrase_does_not_name_a_topic():
    texts = ["my weird printer jams on page two"] * 5 + [
        "printer offline",
        "printer offline again",
        "scanner",
    ]
    one_user = ["u1"] * 5 + ["u2", "u3", "u4"]
    [found] = group_phrases([texts], group_users=[one_user])
    assert found and not [p for p in found if "jams" in p.text or "weird" in p.text]
    assert found[0].text.startswith("printer")


def test_names_never_repeat_a_taken_name_or_each_other():
    same = [
        "reset my password please",
        "how do i reset my password",
        "reset my password, the link expired",
    ] * 3
    names = name_groups([same, same, same], [[""] * 9] * 3, taken=["Reset my password"])
    assert len({n.name.lower() for n in names} | {"reset my password"}) == 4


def test_people_and_places_typed_in_lower_case_are_specifics_too():
    texts = ["book a hotel in phoenix for 3 nights", "text bailey that i am late", "flights to mexico"] * 5
    found = specific_words(texts)
    assert {"phoenix", "bailey", "mexico"} <= found and "hotel" not in found
    names = name_groups([texts[::3], texts[1::3]], [[""] * 5] * 2)
    assert not [n for n in names if {"phoenix", "bailey", "mexico"} & set(n.name.lower().split())]
    assert names[0].name == "Book a hotel"
    assert "\u201cnights\u201d" in names[0].description and "3" not in names[0].description.split(".", 1)[1]


def test_other_languages_words_count_as_their_english_gloss_so_a_mixed_group_is_named_in_english():
    texts = [
        "where is my order, it has not arrived",
        "my order has not arrived yet",
        "¿dónde está mi pedido? no ha llegado",
        "mi pedido no llegó",
        "où est ma commande ? elle n'est pas arrivée",
        "ma commande n'est jamais arrivée",
        "meu pedido não chegou",
        "my order never arrived",
    ]
    [name] = name_groups([texts], [[""] * len(texts)], group_users=[[f"u{i}" for i in range(8)]])
    words = set(name.name.lower().split())
    assert "order" in words and not words & {"pedido", "commande", "n'ai", "n'est"}, name.name


def test_a_leaf_is_not_named_by_one_bare_word_when_its_members_share_a_phrase():
    # Every member writes "build"; several write "docker build fails": the name says what fails.
    texts = [
        "docker build fails on the copy step",
        "my docker build fails with exit code 1",
        "docker build fails after upgrading",
        "build is slow and then fails",
        "why does the build keep failing",
        "docker build fails in ci",
    ]
    other = ["css grid layout breaks on safari", "flexbox layout breaks", "grid layout breaks"] * 2
    names = name_groups([texts, other], [[""] * 6, [""] * 6], group_users=[[f"u{i}" for i in range(6)]] * 2)
    assert len(names[0].name.split()) > 1 and "build" in names[0].name.lower(), names[0].name


def test_a_leaf_name_holds_the_word_nearly_all_its_members_write():
    # Both groups are about restaurants, so c-TF-IDF picks what sets the first apart ("address and
    # postcode"); every member of it writes "restaurant", more than write the attribute: the name says both.
    addresses = ["that restaurant? what is the address and postcode"] * 6 + [
        "a restaurant in the north",
        "cheap restaurant please",
    ]
    tables = [f"book a table for {n} at a restaurant" for n in ("two", "four", "six", "us")] * 2
    cheap = [f"a cheap restaurant that serves {food}" for food in ("thai", "pizza", "curry", "fish")] * 2
    names = name_groups(
        [addresses, tables, cheap], [[""] * 8] * 3, group_users=[[f"u{i}" for i in range(8)]] * 3
    )
    assert names[0].name == "Restaurant address and postcode", names[0].name


def test_organisations_typed_in_lower_case_never_name_a_topic():
    texts = [
        "is my american airlines flight on time",
        "status of my american airlines flight",
        "check my wells fargo account balance",
        "what is my wells fargo account balance",
        "reserve a table at olive garden",
        "book a table at olive garden tonight",
    ] * 3
    assert phrases("what is britain's timezone", specific_words(["what is britain's timezone"])) == [
        ("timezon", "timezone")
    ]
    names = name_groups([texts[:6] * 3], [[""] * 18], group_users=[[f"u{i}" for i in range(18)]])
    found = [p.text for p in group_phrases([texts], group_users=[[f"u{i}" for i in range(18)]])[0]]
    for organisation in ("american airlines", "wells fargo", "olive garden", "fargo", "olive"):
        assert organisation not in names[0].name.lower() and organisation not in names[0].description.lower()
        assert not [text for text in found if organisation in text], found


def test_a_leaf_name_holds_the_word_its_members_mean_embedding_is_nearest():
    # Half the members write "hotel", half "guesthouse", all "moderate price": counts alone name the leaf by
    # its attribute; the local model's embedding says what the leaf is about (`SUBJECT_SHARE`).
    hotels = [
        "looking for a guesthouse in the moderate price range with free parking",
        "a hotel in the moderate price range please",
        "is there a guesthouse with a moderate price and free wifi",
        "I need a hotel, moderate price, free parking",
        "find me a moderate price guesthouse",
        "a hotel with a moderate price in the north",
    ]
    nights = [f"book the {place} for 3 nights starting {day}" for place in ("hotel", "room") for day in "abc"]
    restaurants = [
        f"a {price} restaurant that serves {food} food" for price in ("cheap", "nice") for food in "xyz"
    ]
    texts = hotels + nights + restaurants
    summaries = [
        ConversationSummary(chat_id=f"c{i}", summary=text, request=text, metadata={"user_id": f"u{i}"})
        for i, text in enumerate(texts)
    ]
    rows = [np.arange(0, 6), np.arange(6, 12), np.arange(12, 18)]
    vectors = np.zeros((len(texts), 4))
    by_counts = KeywordClusterNamer(subject_model=None).name_groups(rows, summaries, vectors)
    by_subject = KeywordClusterNamer().name_groups(rows, summaries, vectors)
    assert by_counts[0].name == "Moderate price"
    assert by_subject[0].name.lower().startswith(("guesthouse", "hotel")), by_subject[0].name
    assert "moderate price" in by_subject[0].name.lower()


def test_numbers_written_out_never_name_a_topic():
    keys = [key for key, _ in phrases("I placed three orders and got twice the charge for two items")]
    assert "order" in keys and "charg" in keys
    assert not [key for key in keys if {"three", "twice", "two"} & set(key.split())]


def test_acronyms_are_shown_in_capitals_when_most_uses_are():
    texts = [
        "my SMS code never arrives",
        "the SMS code is late",
        "sms code missing",
        "SMS again",
        "send the code",
    ]
    assert acronyms(texts) == {"sms"}
    index = PhraseIndex(texts * 2)
    shown = {index.surface(term) for term in range(len(index.vocabulary))}
    assert "SMS code" in shown and "sms code" not in shown


def test_words_of_another_language_name_nothing_unless_english_texts_use_them_or_the_term_map_glosses_them():
    french = "Le build fonctionne sur mon Mac mais échoue dans la CI"
    keys = [key for key, _ in phrases(french, foreign=True, english_words=frozenset({"build"}))]
    assert "build" in keys and "fail" in keys  # "échoue" counts as "fails"
    assert not [key for key in keys if "fonctionn" in key or "sur" in key.split()]
    # The namer flags a text as foreign by its language facet, else by its function words.
    texts = [french] * 3 + ["docker build fails in CI", "the build fails on my laptop"] * 2
    summaries = [
        ConversationSummary(chat_id=f"c{i}", summary=text, request=text, metadata={"user_id": f"u{i}"})
        for i, text in enumerate(texts)
    ]
    names = KeywordClusterNamer(subject_model=None).name_groups(
        [np.arange(len(texts))], summaries, np.zeros((7, 2))
    )
    assert "fonctionne" not in (names[0].name + names[0].description).lower(), names[0]


def test_a_parent_is_named_by_the_word_its_members_mean_embedding_is_nearest_not_an_attribute():
    # Most hotel requests write "free parking", fewer "hotel": counts alone name the parent by the attribute
    # that sets it apart from its peers; the local model's embedding says what it holds (`BROAD_HEADS`).
    hotels = [
        "a hotel in the north with free parking",
        "I need a hotel for two nights, free parking please",
        "is there a hotel with free parking and wifi",
        "the hotel must have free parking",
        "book a hotel room for three nights",
        "a cheap hotel near the centre",
        "looking for a guesthouse with free parking",
        "a guesthouse in the east with free wifi",
    ]
    restaurants = [
        f"a {price} restaurant that serves {food} food"
        for price in ("cheap", "nice")
        for food in ("thai", "indian", "french", "greek")
    ]
    texts = hotels + restaurants
    summaries = [
        ConversationSummary(chat_id=f"c{i}", summary=text, request=text, metadata={"user_id": f"u{i}"})
        for i, text in enumerate(texts)
    ]
    rows = [np.arange(0, 8), np.arange(8, 16)]
    vectors = np.zeros((len(texts), 4))
    by_counts = KeywordClusterNamer(subject_model=None).name_groups(rows, summaries, vectors, broad=True)
    by_subject = KeywordClusterNamer().name_groups(rows, summaries, vectors, broad=True)
    assert by_counts[0].name == "Free parking"
    assert by_subject[0].name.lower().startswith("hotel"), by_subject[0].name
