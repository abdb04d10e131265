import pytest

from kura_dagster.core.types import Cluster
from kura_dagster.core.views.tree_view import render_tree, tree_markdown

TREE = [
    Cluster(
        id="r",
        name="Web development help",
        description="Users building web apps.",
        slug="web",
        chat_ids=list("abcdef"),
    ),
    Cluster(
        id="l1",
        name="React component questions",
        description="React.",
        slug="react",
        chat_ids=list("abcd"),
        parent_id="r",
    ),
    Cluster(
        id="l2", name="CSS layout fixes", description="CSS.", slug="css", chat_ids=list("ef"), parent_id="r"
    ),
    Cluster(
        id="r2", name="Data analysis in Python", description="pandas.", slug="data", chat_ids=list("ghij")
    ),
]


def test_basic_style_matches_kura():
    assert render_tree(TREE, "basic") == (
        "Clusters (10 conversations)\n"
        "╠══ Web development help (6 conversations)\n"
        "║   ╠══ React component questions (4 conversations)\n"
        "║   ╚══ CSS layout fixes (2 conversations)\n"
        "╚══ Data analysis in Python (4 conversations)\n"
    )


def test_enhanced_style_has_percentages_bars_and_statistics():
    text = render_tree(TREE, "enhanced")
    assert "🎯 ENHANCED CLUSTER VISUALIZATION" in text
    assert "📊 6 conversations (60.0%) [████████████░░░░░░░░]" in text
    assert "🌳 Root Clusters: 2" in text and "📊 Total Clusters: 4" in text


def test_rich_style_colours_levels_and_shows_size_distribution():
    coloured = render_tree(TREE, "rich", colour=True)
    plain = render_tree(TREE, "rich", colour=False)
    assert "\x1b[" in coloured and "\x1b[" not in plain
    assert "Cluster Size Distribution" in plain and "Tiny (1-5)" in plain
    assert "React component questions" in plain


def test_unknown_style_is_a_clear_error():
    with pytest.raises(ValueError, match="basic, enhanced, rich"):
        render_tree(TREE, "fancy")


def test_markdown_tree_nests_children():
    assert tree_markdown(TREE).splitlines()[:2] == [
        "- **Web development help** (6)",
        "  - **React component questions** (4)",
    ]


PLANTED = "\x1b[2J\x1b]0;pwned\x07"  # clear the screen, retitle the window, ring the bell


def test_escape_sequences_in_names_and_descriptions_never_reach_the_terminal():
    hostile = [
        node.model_copy(
            update={
                "name": PLANTED + node.name,
                "description": node.description + PLANTED + "\x9b31m\u202e\rline\nbreak",
            }
        )
        for node in TREE
    ]
    for style in ("basic", "enhanced", "rich"):
        text = render_tree(hostile, style, colour=True)
        assert "\x1b[2J" not in text and "\x1b]" not in text and "\x07" not in text and "\x9b" not in text, (
            style
        )
        assert "\u202e" not in text and "\r" not in text and "pwned" not in text, style
        assert "React component questions" in text, style  # the name itself is still shown
    assert "Users building web apps.line break" in render_tree(hostile, "enhanced")
