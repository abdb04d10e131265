"""Terminal and markdown views of a topic tree, in Kura's three styles (basic, enhanced, rich).

Names and descriptions are user text: the terminal styles print them through `text.terminal_safe`, so a
message cannot clear the screen, retitle the window or move the cursor.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from kura_dagster.core.privacy.thresholds import (
    BELOW_THRESHOLD_NAME,
    Thresholds,
    hidden_conversations,
    hidden_leaves_of,
    is_hidden,
    named_leaf_below,
)
from kura_dagster.core.text import terminal_safe
from kura_dagster.core.tree import children_of
from kura_dagster.core.types import Cluster

STYLES: tuple[str, ...] = ("basic", "enhanced", "rich")
RULE = "=" * 80
LEVEL_COLOURS = ("bright_green", "bright_yellow", "bright_magenta", "bright_blue", "bright_red")


def _fold_hidden(kids: list[Cluster], parent_key: str | None, named_below: dict[str, bool]) -> list[Cluster]:
    """Siblings as shown: two or more hidden subtrees (below a threshold, withheld, nothing named inside)
    become one line, last."""
    hidden = [kid for kid in kids if is_hidden(kid) and not named_below.get(kid.id, False)]
    if len(hidden) < 2:
        return kids
    if all(kid.name == BELOW_THRESHOLD_NAME for kid in hidden):
        name = f"{BELOW_THRESHOLD_NAME}: {len(hidden)} small groups"
    else:
        name = f"Not shown: {len(hidden)} groups too small or withheld by the privacy audit"
    group = Cluster(
        id=f"hidden_under_{parent_key or 'root'}",
        name=name,
        slug="below_threshold",
        description="Groups that may not be described, counted together.",
        chat_ids=[chat for kid in hidden for chat in kid.chat_ids],
    )
    folded = {kid.id for kid in hidden}
    return [kid for kid in kids if kid.id not in folded] + [group]


def displayed_children(clusters: Sequence[Cluster]) -> dict[str | None, list[Cluster]]:
    """`children_of`, with the hidden subtrees under each parent (and among the roots) folded into one line."""
    named_below = named_leaf_below(clusters)
    return {key: _fold_hidden(kids, key, named_below) for key, kids in children_of(clusters).items()}


def printable(clusters: Sequence[Cluster]) -> list[Cluster]:
    """The nodes with names and descriptions a terminal prints as text (see `text.terminal_safe`)."""
    shown = []
    for node in clusters:
        name, description = terminal_safe(node.name), terminal_safe(node.description)
        changed = (name, description) != (node.name, node.description)
        shown.append(node.model_copy(update={"name": name, "description": description}) if changed else node)
    return shown


def _bar(count: int, total: int, width: int) -> str:
    filled = int(count / total * width) if total else 0
    return "█" * filled + "░" * (width - filled)


def render_basic(clusters: Sequence[Cluster]) -> str:
    clusters = printable(clusters)
    children = displayed_children(clusters)
    roots = children.get(None, [])
    total = sum(root.count for root in roots)
    lines = [f"Clusters ({total} conversations)"]

    def walk(node: Cluster, prefix: str, last: bool) -> None:
        lines.append(f"{prefix}{'╚══ ' if last else '╠══ '}{node.name} ({node.count} conversations)")
        kids = children.get(node.id, [])
        for i, kid in enumerate(kids):
            walk(kid, prefix + ("    " if last else "║   "), i == len(kids) - 1)

    for i, root in enumerate(roots):
        walk(root, "", i == len(roots) - 1)
    return "\n".join(lines) + "\n"


def render_enhanced(clusters: Sequence[Cluster]) -> str:
    clusters = printable(clusters)
    children = displayed_children(clusters)
    roots = children.get(None, [])
    total = sum(root.count for root in roots)
    lines = [
        "",
        RULE,
        "🎯 ENHANCED CLUSTER VISUALIZATION",
        RULE,
        "",
        f"🔸 📚 All Clusters ({total:,} total conversations)",
        f"    📊 {total:,} conversations (100.0%) [{_bar(total, total, 20)}]",
        "    💭 Hierarchical conversation clustering results",
        "",
    ]

    def walk(node: Cluster, prefix: str, last: bool) -> None:
        share = node.count / total * 100 if total else 0.0
        cont = "    " if last else "║   "
        lines.append(f"{prefix}{'╚══ ' if last else '╠══ '}🔸 {node.name}")
        lines.append(
            f"{prefix}{cont}📊 {node.count:,} conversations ({share:.1f}%) [{_bar(node.count, total, 20)}]"
        )
        if len(node.description) < 100:
            lines.append(f"{prefix}{cont}💭 {node.description}")
        lines.append("")
        kids = children.get(node.id, [])
        for i, kid in enumerate(kids):
            walk(kid, prefix + cont, i == len(kids) - 1)

    for i, root in enumerate(roots):
        walk(root, "", i == len(roots) - 1)
    average = total / len(roots) if roots else 0.0
    lines += [
        RULE,
        "📈 CLUSTER STATISTICS",
        RULE,
        f"📊 Total Clusters: {len(clusters)}",
        f"🌳 Root Clusters: {len(roots)}",
        f"💬 Total Conversations: {total:,}",
        f"📏 Average Conversations per Root Cluster: {average:.1f}",
        RULE,
        "",
    ]
    return "\n".join(lines) + "\n"


def render_rich(clusters: Sequence[Cluster], *, width: int = 120, colour: bool = True) -> str:
    """Coloured tree (one colour per level), statistics and the root-size distribution, via `rich`."""
    from rich.align import Align
    from rich.box import ROUNDED
    from rich.console import Console
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text
    from rich.tree import Tree

    clusters = printable(clusters)
    children = displayed_children(clusters)
    roots = children.get(None, [])
    total = sum(root.count for root in roots)
    tree = Tree(Text(f"📚 All Clusters ({total:,} conversations)", style="bold bright_cyan"))

    def label(node: Cluster, depth: int) -> Text:
        colour_name = LEVEL_COLOURS[depth % len(LEVEL_COLOURS)]
        share = node.count / total * 100 if total else 0.0
        text = Text()
        text.append(node.name, style=f"bold {colour_name}")
        text.append(f" ({node.count:,} conversations, {share:.1f}%)\n", style="dim")
        description = node.description if len(node.description) <= 80 else node.description[:80] + "..."
        text.append(description + "\n", style="italic dim")
        text.append(f"Progress: [{_bar(node.count, total, 15)}]", style="dim")
        return text

    def walk(branch, node: Cluster, depth: int) -> None:
        sub = branch.add(label(node, depth))
        for kid in children.get(node.id, []):
            walk(sub, kid, depth + 1)

    for root in roots:
        walk(tree, root, 0)

    stats = Table(title="📈 Cluster Statistics", title_style="bold bright_cyan", box=ROUNDED)
    stats.add_column("Metric", style="bold bright_yellow")
    stats.add_column("Value", style="bright_green")
    stats.add_row("📊 Total Clusters", str(len(clusters)))
    stats.add_row("🌳 Root Clusters", str(len(roots)))
    stats.add_row("💬 Total Conversations", f"{total:,}")
    stats.add_row("📏 Avg per Root Cluster", f"{total / len(roots) if roots else 0:.1f}")

    sizes = Table(title="📊 Cluster Size Distribution", title_style="bold bright_magenta", box=ROUNDED)
    for column in ("Size Range", "Count", "Percentage"):
        sizes.add_column(column)
    buckets = (
        ("🔥 Large (>100)", 101, None),
        ("📈 Medium (21-100)", 21, 100),
        ("📊 Small (6-20)", 6, 20),
        ("🔍 Tiny (1-5)", 1, 5),
    )
    for name, low, high in buckets:
        count = sum(1 for r in roots if r.count >= low and (high is None or r.count <= high))
        sizes.add_row(name, str(count), f"{count / len(roots) * 100 if roots else 0:.1f}%")
    grid = Table.grid(padding=2)
    grid.add_row(stats, sizes)

    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, force_terminal=colour, color_system="truecolor" if colour else None
    )
    console.print()
    console.print(
        Panel(
            Align.center(Text("🎯 RICH CLUSTER VISUALIZATION", style="bold bright_cyan")),
            box=ROUNDED,
            style="bright_cyan",
        )
    )
    console.print()
    console.print(tree)
    console.print()
    console.print(grid)
    console.print()
    return buffer.getvalue()


def render_tree(
    clusters: Sequence[Cluster], style: str = "basic", *, colour: bool = True, note: str = ""
) -> str:
    """The tree in one of Kura's styles; `note` (see `hidden_note`) is printed under it."""
    if style == "basic":
        text = render_basic(clusters)
    elif style == "enhanced":
        text = render_enhanced(clusters)
    elif style == "rich":
        text = render_rich(clusters, colour=colour)
    else:
        raise ValueError(f"Invalid style '{style}'. Must be one of: {', '.join(STYLES)}")
    return text + (f"{terminal_safe(note)}\n" if note else "")


def hidden_note(
    clusters: Sequence[Cluster],
    thresholds: Thresholds,
    user_of_chat: Mapping[str, str | None],
    *,
    rerun: str = "",
) -> str:
    """The line under a tree that says how many conversations the privacy thresholds hide and which
    KURA_* setting would show them ("" when nothing is hidden): on a small dataset most of a day can be
    hidden, and the folded line alone does not say what to do about it."""
    total = sum(root.count for root in children_of(clusters).get(None, []))
    hidden = hidden_conversations(hidden_leaves_of(clusters), user_of_chat, thresholds, total=total)
    sentence = hidden.sentence(rerun)
    return f"Hidden: {sentence}" if sentence else ""


def visualise_pipeline_results(clusters: Sequence[Cluster], style: str = "basic") -> None:
    """Kura's `visualise_pipeline_results`: print the tree in one of the three styles."""
    print(render_tree(clusters, style), end="")


def tree_markdown(clusters: Sequence[Cluster], *, max_nodes: int = 200) -> str:
    """Nested markdown list of the tree for Dagster asset metadata (cut after `max_nodes` lines)."""
    children = displayed_children(clusters)
    lines: list[str] = []

    def walk(node: Cluster, depth: int) -> None:
        if len(lines) >= max_nodes:
            return
        lines.append(f"{'  ' * depth}- **{node.name}** ({node.count})")
        for kid in children.get(node.id, []):
            walk(kid, depth + 1)

    for root in children.get(None, []):
        walk(root, 0)
    shown = sum(len(kids) for kids in children.values())
    if shown > len(lines):
        lines.append(f"\n_…{shown - len(lines)} more nodes not shown_")
    return "\n".join(lines) or "_empty tree_"
