"""Render the 2D map of a topic tree for Dagster asset metadata: a labelled overview shown inline, and a PNG.

Dagster's UI (1.13) renders markdown metadata, including images given as ``data:`` URIs, but inline only when
the markdown is shorter than 1,000 characters (`MetadataEntry.tsx`); longer values hide behind a
"[Show Markdown]" link. No other metadata type shows an image. So `map_svg_markdown` draws the top-level
topics as an SVG that fits in those 1,000 characters, each bubble labelled with its topic's name, and the
PNG of every node (`render_map_png`, coloured the same way) is the detailed picture behind the link.
Groups hidden by the privacy thresholds are drawn in neither, and a hidden node is never labelled.

Pulling in matplotlib or Pillow only for the PNG would add heavy dependencies, so this module draws with
numpy and writes the PNG itself (zlib + struct).

Drawing: leaves are translucent filled discs (radius grows with sqrt(count)), coloured by their root
topic (`MapPoint.group`, cycling through a fixed palette); parents are thin rings in a darker shade of the
same colour. The picture is drawn at 2× and averaged down for antialiasing. Output is deterministic:
the same points give the same bytes.
"""

from __future__ import annotations

import base64
import html
import math
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

import numpy as np

from kura_dagster.core.privacy.thresholds import is_hidden, unshown_ids
from kura_dagster.core.text import terminal_safe

if TYPE_CHECKING:
    from kura_dagster.core.types import ProjectedCluster

__all__ = [
    "PALETTE",
    "LEAF_ALPHA",
    "MapPoint",
    "encode_png",
    "group_colour",
    "map_svg_markdown",
    "png_markdown",
    "shown_nodes",
    "point_pixels",
    "render_map_png",
]

# Ten distinguishable colours (RGB, 0-255), used in order and then cycled.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180),  # blue
    (255, 127, 14),  # orange
    (44, 160, 44),  # green
    (214, 39, 40),  # red
    (148, 103, 189),  # purple
    (140, 86, 75),  # brown
    (227, 119, 194),  # pink
    (127, 127, 127),  # grey
    (188, 189, 34),  # olive
    (23, 190, 207),  # cyan
)

LEAF_ALPHA = 0.7  # opacity of a leaf disc; overlaps stay visible
RING_ALPHA = 0.9  # opacity of a parent ring
RING_SHADE = 0.6  # parent ring colour = group colour × this
RING_HALF_WIDTH = 0.6  # px (final resolution); ring is ~1.2 px wide
MIN_RADIUS = 3.0  # px
MAX_LEAF_RADIUS = 18.0  # px
MAX_PARENT_RADIUS = 36.0  # px; parents hold more conversations than any leaf
MARGIN = 22.0  # px between the outermost centres and the image edge
BACKGROUND = (255, 255, 255)
FRAME = (204, 204, 204)
SUPERSAMPLE = 2

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True, slots=True)
class MapPoint:
    """One tree node on the map: position, conversation count, depth, kind, and root-topic group."""

    x: float
    y: float
    count: int
    level: int
    is_leaf: bool
    group: int = 0


def group_colour(group: int) -> tuple[int, int, int]:
    """The palette colour for a group (cycling; negative groups are fine)."""
    return PALETTE[group % len(PALETTE)]


# --------------------------------------------------------------------------------------------- layout


def point_pixels(points: Sequence[MapPoint], width: int = 640, height: int = 480) -> np.ndarray:
    """Pixel-space centres (column, row) of the points, shape (n, 2); NaN rows for skipped points.

    Both axes share one scale (the map's aspect ratio is kept) and the cloud is centred; y grows upwards.
    Pixel (r, c) covers [c, c+1) × [r, r+1), so a centre at (c + 0.5, r + 0.5) is the middle of that pixel.
    A single point, or points that all coincide, land in the middle of the image.
    """
    n = len(points)
    out = np.full((n, 2), np.nan)
    if n == 0:
        return out
    xy = np.array([(p.x, p.y) for p in points], dtype=np.float64).reshape(-1, 2)
    ok = np.isfinite(xy).all(axis=1)
    if not ok.any():
        return out
    good = xy[ok]
    lo, hi = good.min(axis=0), good.max(axis=0)
    mid = (lo + hi) / 2.0
    span = hi - lo
    margin = min(MARGIN, width / 4.0, height / 4.0)
    room = np.array([width - 2 * margin, height - 2 * margin])
    scales = [room[i] / span[i] for i in range(2) if span[i] > 0 and math.isfinite(room[i] / span[i])]
    scale = min(scales) if scales else 0.0
    out[ok, 0] = width / 2.0 + (good[:, 0] - mid[0]) * scale
    out[ok, 1] = height / 2.0 - (good[:, 1] - mid[1]) * scale
    return out


def _radii(points: Sequence[MapPoint], drawn: np.ndarray) -> np.ndarray:
    """Radius (final px) per point: MIN_RADIUS + k·sqrt(count), k set so the largest drawn leaf (or, with no
    leaves, the largest drawn node) gets MAX_LEAF_RADIUS. Only `drawn` points set the scale."""
    counts = np.array([max(float(p.count), 0.0) for p in points], dtype=np.float64)
    leaf = np.array([p.is_leaf for p in points], dtype=bool)
    ref_pool = counts[drawn & leaf] if (drawn & leaf).any() else counts[drawn]
    ref = float(ref_pool.max()) if ref_pool.size else 0.0
    ref = ref if math.isfinite(ref) else 0.0
    k = (MAX_LEAF_RADIUS - MIN_RADIUS) / math.sqrt(ref) if ref > 0 else 0.0
    r = MIN_RADIUS + k * np.sqrt(counts)
    return np.where(leaf, np.clip(r, MIN_RADIUS, MAX_LEAF_RADIUS), np.clip(r, MIN_RADIUS, MAX_PARENT_RADIUS))


# -------------------------------------------------------------------------------------------- drawing


def _blend(canvas: np.ndarray, cx: float, cy: float, reach: float, colour: np.ndarray, coverage_fn) -> None:
    """Alpha-blend `colour` over the canvas within a square of half-size `reach` around (cx, cy)."""
    h, w = canvas.shape[:2]
    c0, c1 = max(0, int(math.floor(cx - reach))), min(w, int(math.ceil(cx + reach)) + 1)
    r0, r1 = max(0, int(math.floor(cy - reach))), min(h, int(math.ceil(cy + reach)) + 1)
    if c0 >= c1 or r0 >= r1:
        return
    dx = np.arange(c0, c1, dtype=np.float32) + np.float32(0.5 - cx)
    dy = np.arange(r0, r1, dtype=np.float32) + np.float32(0.5 - cy)
    d = np.sqrt(dx[None, :] ** 2 + dy[:, None] ** 2)
    a = coverage_fn(d)[..., None]
    patch = canvas[r0:r1, c0:c1]
    patch += (colour - patch) * a


def render_map_png(points: Sequence[MapPoint], *, width: int = 640, height: int = 480) -> bytes:
    """Draw the map (see the module docstring) and return it as PNG bytes. Non-finite points are skipped."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    points = list(points)
    ss = SUPERSAMPLE
    canvas = np.empty((height * ss, width * ss, 3), dtype=np.float32)
    canvas[:] = np.array(BACKGROUND, dtype=np.float32) / 255.0

    if points:
        centres = point_pixels(points, width, height) * ss
        ok = np.isfinite(centres).all(axis=1)
        radii = _radii(points, ok) * ss
        idx = np.flatnonzero(ok)
        leaves = [i for i in idx if points[i].is_leaf]
        parents = [i for i in idx if not points[i].is_leaf]
        # Big leaves first so small ones stay on top; rings last (outer levels first) so the tree shows.
        leaves.sort(key=lambda i: (-radii[i], i))
        parents.sort(key=lambda i: (points[i].level, -radii[i], i))

        for i in leaves:
            r = float(radii[i])
            colour = np.array(group_colour(points[i].group), dtype=np.float32) / 255.0
            _blend(
                canvas,
                float(centres[i, 0]),
                float(centres[i, 1]),
                r + 1.0,
                colour,
                lambda d, r=r: np.clip(r + 0.5 - d, 0.0, 1.0) * np.float32(LEAF_ALPHA),
            )

        half = RING_HALF_WIDTH * ss
        for i in parents:
            r = float(radii[i])
            base = np.array(group_colour(points[i].group), dtype=np.float32) / 255.0
            colour = base * np.float32(RING_SHADE)
            _blend(
                canvas,
                float(centres[i, 0]),
                float(centres[i, 1]),
                r + half + 1.0,
                colour,
                lambda d, r=r: np.clip(half + 0.5 - np.abs(d - r), 0.0, 1.0) * np.float32(RING_ALPHA),
            )

    small = canvas.reshape(height, ss, width, ss, 3).mean(axis=(1, 3))
    rgb = np.clip(np.rint(small * 255.0), 0, 255).astype(np.uint8)
    frame = np.array(FRAME, dtype=np.uint8)
    rgb[0, :] = frame
    rgb[-1, :] = frame
    rgb[:, 0] = frame
    rgb[:, -1] = frame
    return encode_png(rgb)


# ------------------------------------------------------------------------------------------------ PNG


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def encode_png(rgb: np.ndarray) -> bytes:
    """Encode an (height, width, 3) uint8 RGB array as an 8-bit truecolour PNG (filter 0 on every row)."""
    arr = np.asarray(rgb)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"expected a non-empty (height, width, 3) array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() > 255:
            raise ValueError(f"expected uint8 values (0-255), got dtype {arr.dtype}")
        arr = arr.astype(np.uint8)
    h, w = arr.shape[:2]
    raw = np.zeros((h, 1 + w * 3), dtype=np.uint8)
    raw[:, 1:] = arr.reshape(h, w * 3)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)  # 8-bit, truecolour, deflate, filter 0, no interlace
    return (
        _PNG_SIGNATURE
        + _chunk(b"IHDR", ihdr)
        + _chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
        + _chunk(b"IEND", b"")
    )


def png_markdown(png: bytes, alt: str = "map") -> str:
    """Markdown image with the PNG inlined as a data URI (what Dagster's metadata viewer renders)."""
    safe_alt = alt.replace("[", "(").replace("]", ")").replace("\n", " ")
    return f"![{safe_alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def shown_nodes(projected: Sequence["ProjectedCluster"]) -> list["ProjectedCluster"]:
    """The nodes a picture may draw: the hidden groups (`thresholds.unshown_ids`) left out."""
    unshown = unshown_ids((node.id, node.parent_id, node.name) for node in projected)
    return [node for node in projected if node.id not in unshown]


def points_from_projection(projected: Sequence["ProjectedCluster"]) -> list[MapPoint]:
    """Map points of a projected tree without its hidden groups, each coloured by the root it sits under."""
    projected = shown_nodes(projected)
    parent = {node.id: node.parent_id for node in projected}
    has_children = {node.parent_id for node in projected if node.parent_id is not None}
    roots: dict[str, int] = {}

    def root_of(node_id: str) -> str:
        while parent.get(node_id) is not None:
            node_id = parent[node_id]
        return node_id

    points = []
    for node in projected:
        group = roots.setdefault(root_of(node.id), len(roots))
        points.append(
            MapPoint(
                x=node.x_coord,
                y=node.y_coord,
                count=node.count,
                level=node.level,
                is_leaf=node.id not in has_children,
                group=group,
            )
        )
    return points


# ------------------------------------------------------------------------------------ inline SVG overview

INLINE_MARKDOWN_LIMIT = 1000  # Dagster's UI shows markdown metadata inline below this many characters
LABEL_CHARS = 24


def _hex(colour: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % colour


def _fit(xy: np.ndarray, width: int, height: int, margin_x: float, margin_y: float) -> np.ndarray:
    """Pixel centres of `xy` in the box inside the margins, one scale for both axes, y growing upwards."""
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    scale = min((width - 2 * margin_x) / span[0], (height - 2 * margin_y) / span[1])
    middle = (lo + hi) / 2
    return np.column_stack(
        [width / 2 + (xy[:, 0] - middle[0]) * scale, height / 2 - (xy[:, 1] - middle[1]) * scale]
    )


def _label(name: str) -> str:
    text = " ".join(terminal_safe(name).split())  # control characters are not even valid XML
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1].rstrip() + "…"


def map_svg_markdown(
    projected: Sequence["ProjectedCluster"],
    *,
    width: int = 360,
    height: int = 220,
    limit: int = INLINE_MARKDOWN_LIMIT,
) -> str:
    """The top-level topics as labelled bubbles (at their map positions, sized by conversations, in the
    PNG's colours), as a markdown image shorter than `limit` characters so that Dagster shows it inline.

    The largest topics come first; a topic that would not fit in `limit` is left out, and the alt text says
    how many are drawn. Hidden groups are not drawn; a top-level node with a content-free name that still has
    shown topics below it (withheld by the audit) is drawn grey and unlabelled.
    """
    nodes = shown_nodes(projected)
    roots = [
        node
        for node in nodes
        if node.parent_id is None and math.isfinite(node.x_coord) and math.isfinite(node.y_coord)
    ]
    colours = {node.id: group_colour(i) for i, node in enumerate(n for n in nodes if n.parent_id is None)}
    order = sorted(range(len(roots)), key=lambda i: (-roots[i].count, roots[i].id))
    biggest = max((node.count for node in roots), default=1) or 1
    max_radius = min(width, height) * 0.16
    centres = (
        _fit(np.array([(n.x_coord, n.y_coord) for n in roots]), width, height, 70.0, max_radius + 4)
        if roots
        else np.zeros((0, 2))
    )

    def encode(svg: str) -> str:
        return quote(svg, safe=" ='/:,.;()!*&-")

    def markdown(bubbles: list[str], labels: list[str], drawn: int) -> str:
        svg = (
            f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}'>"
            f"<g opacity='.55'>{''.join(bubbles)}</g>"
            "<g font-family='sans-serif' font-size='12' text-anchor='middle' stroke='#fff' stroke-width='3' "
            f"paint-order='stroke'>{''.join(labels)}</g></svg>"
        )
        alt = f"map of {drawn} of {len(roots)} top-level topics"
        return f"![{alt}](<data:image/svg+xml,{encode(svg)}>)"

    bubbles: list[str] = []
    labels: list[str] = []
    drawn = 0
    for i in order:
        node = roots[i]
        x, y = (int(round(v)) for v in centres[i])
        radius = max(6, int(round(max_radius * math.sqrt(max(node.count, 0) / biggest))))
        colour = "#bbb" if is_hidden(node) else _hex(colours[node.id])
        bubble = f"<circle cx='{x}' cy='{y}' r='{radius}' fill='{colour}'/>"
        label = (
            [] if is_hidden(node) else [f"<text x='{x}' y='{y + 4}'>{html.escape(_label(node.name))}</text>"]
        )
        if len(markdown(bubbles + [bubble], labels + label, drawn + 1)) >= limit:
            continue  # a smaller topic with a shorter name may still fit
        bubbles.append(bubble)
        labels += label
        drawn += 1
    return markdown(bubbles, labels, drawn)
