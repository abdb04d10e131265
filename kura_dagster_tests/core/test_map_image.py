import base64
import math
import struct
import zlib

import numpy as np
import pytest

from kura_dagster.core.views.map_image import (
    BACKGROUND,
    FRAME,
    LEAF_ALPHA,
    PALETTE,
    MapPoint,
    encode_png,
    group_colour,
    png_markdown,
    point_pixels,
    render_map_png,
)

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode_png(data: bytes) -> np.ndarray:
    """Just enough of a PNG decoder for our encoder's output: 8-bit RGB, filter 0, no interlace."""
    assert data[:8] == SIGNATURE
    pos, idat, ihdr, kinds = 8, b"", None, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body) & 0xFFFFFFFF, kind
        kinds.append(kind)
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and pos == len(data)
    width, height, depth, colour_type, compression, filt, interlace = ihdr
    assert (depth, colour_type, compression, filt, interlace) == (8, 2, 0, 0, 0)
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8)
    assert raw.size == height * (1 + 3 * width)
    rows = raw.reshape(height, 1 + 3 * width)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:].reshape(height, width, 3)


def leaf_centre_colour(group: int) -> np.ndarray:
    """A leaf disc's colour over the white background."""
    c = np.array(group_colour(group), dtype=float)
    return LEAF_ALPHA * c + (1 - LEAF_ALPHA) * np.array(BACKGROUND, dtype=float)


def pixel_at(img: np.ndarray, centre) -> np.ndarray:
    col, row = int(math.floor(centre[0])), int(math.floor(centre[1]))
    return img[row, col].astype(float)


def assert_framed(img: np.ndarray) -> None:
    frame = np.array(FRAME)
    for edge in (img[0], img[-1], img[:, 0], img[:, -1]):
        assert (edge == frame).all()


def clustered_points(n: int, seed: int = 0, groups: int = 5) -> list[MapPoint]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 10, size=(groups, 2))
    pts = [
        MapPoint(float(cx), float(cy), int(rng.integers(20, 200)), 0, False, g)
        for g, (cx, cy) in enumerate(centres)
    ]
    for i in range(n):
        g = i % groups
        x, y = centres[g] + rng.normal(0, 1.5, size=2)
        pts.append(MapPoint(float(x), float(y), int(rng.integers(1, 40)), 1, True, g))
    return pts


def test_encode_png_roundtrip():
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, size=(7, 11, 3), dtype=np.uint8)
    png = encode_png(rgb)
    assert png.startswith(SIGNATURE)
    assert np.array_equal(decode_png(png), rgb)


def test_encode_png_rejects_bad_input():
    with pytest.raises(ValueError):
        encode_png(np.zeros((4, 4), dtype=np.uint8))
    with pytest.raises(ValueError):
        encode_png(np.full((2, 2, 3), 300))


def test_size_background_and_frame():
    pts = [MapPoint(0, 0, 5, 1, True, 0), MapPoint(10, 5, 5, 1, True, 1)]
    img = decode_png(render_map_png(pts, width=200, height=120))
    assert img.shape == (120, 200, 3)
    assert_framed(img)
    assert tuple(img[3, 3]) == BACKGROUND
    assert tuple(img[-4, 100]) == BACKGROUND


def test_leaf_centre_has_its_group_colour_and_groups_differ():
    pts = [MapPoint(0, 0, 10, 1, True, 0), MapPoint(10, 0, 10, 1, True, 1), MapPoint(5, 8, 10, 1, True, 2)]
    img = decode_png(render_map_png(pts, width=300, height=240))
    centres = point_pixels(pts, 300, 240)
    seen = []
    for p, c in zip(pts, centres):
        got = pixel_at(img, c)
        assert np.abs(got - leaf_centre_colour(p.group)).max() <= 3, (p, got)
        seen.append(tuple(got))
    assert len(set(seen)) == 3


def test_palette_is_distinct_and_cycles():
    assert len(set(PALETTE)) == len(PALETTE) >= 8
    assert group_colour(len(PALETTE) + 2) == group_colour(2)


def test_parent_ring_is_drawn_darker_around_centre():
    pts = [MapPoint(0, 0, 100, 0, False, 3), MapPoint(50, 50, 1, 1, True, 3)]
    img = decode_png(render_map_png(pts, width=200, height=200))
    cx, cy = point_pixels(pts, 200, 200)[0]
    # The ring's middle is hollow; some pixel on the ring is darker than the group colour.
    assert tuple(pixel_at(img, (cx, cy))) == BACKGROUND
    ring_band = img[max(0, int(cy) - 40) : int(cy) + 40, max(0, int(cx) - 40) : int(cx) + 40].astype(int)
    darkest = ring_band.sum(axis=2).min()
    assert darkest < sum(group_colour(3))


def test_deterministic_bytes():
    pts = clustered_points(60, seed=3)
    assert render_map_png(pts) == render_map_png(list(pts))


def test_empty_input_gives_blank_framed_image():
    img = decode_png(render_map_png([], width=64, height=48))
    assert img.shape == (48, 64, 3)
    assert_framed(img)
    assert (img[1:-1, 1:-1] == np.array(BACKGROUND)).all()


@pytest.mark.parametrize(
    "pts",
    [
        [MapPoint(3.0, -2.0, 7, 1, True, 4)],
        [
            MapPoint(1.0, 1.0, 7, 1, True, 4),
            MapPoint(1.0, 1.0, 2, 1, True, 4),
            MapPoint(1.0, 1.0, 9, 0, False, 4),
        ],
    ],
)
def test_single_point_and_coincident_points_land_in_the_middle(pts):
    img = decode_png(render_map_png(pts, width=100, height=80))
    centres = point_pixels(pts, 100, 80)
    assert np.allclose(centres, [[50.0, 40.0]] * len(pts))
    assert np.abs(pixel_at(img, (50, 40)) - np.array(BACKGROUND)).max() > 30


def test_collinear_points_do_not_divide_by_zero():
    pts = [MapPoint(float(i), 5.0, 3, 1, True, 0) for i in range(5)]
    centres = point_pixels(pts, 200, 100)
    assert np.isfinite(centres).all()
    assert np.allclose(centres[:, 1], 50.0)
    img = decode_png(render_map_png(pts, width=200, height=100))
    assert np.abs(pixel_at(img, centres[2]) - leaf_centre_colour(0)).max() <= 3


def test_non_finite_points_are_skipped():
    good = [MapPoint(0, 0, 5, 1, True, 1), MapPoint(4, 4, 5, 1, True, 2)]
    bad = [MapPoint(math.nan, 1, 50, 1, True, 5), MapPoint(1, math.inf, 50, 0, False, 6)]
    assert render_map_png(good + bad, width=120, height=90) == render_map_png(good, width=120, height=90)
    assert np.isnan(point_pixels(bad, 120, 90)).all()
    img = decode_png(render_map_png(bad, width=120, height=90))
    assert (img[1:-1, 1:-1] == np.array(BACKGROUND)).all()


def test_many_points_render():
    pts = clustered_points(5000, seed=7, groups=12)
    img = decode_png(render_map_png(pts))
    assert img.shape == (480, 640, 3)
    assert_framed(img)


def test_png_markdown_is_a_data_uri_image():
    png = encode_png(np.zeros((2, 3, 3), dtype=np.uint8))
    md = png_markdown(png, alt="topic map")
    prefix = "![topic map](data:image/png;base64,"
    assert md.startswith(prefix) and md.endswith(")")
    assert base64.b64decode(md[len(prefix) : -1]) == png
    assert png_markdown(png).startswith("![map](data:image/png;base64,")


def _svg_labels(markdown: str) -> list[str]:
    import xml.etree.ElementTree as ET
    from urllib.parse import unquote

    svg = ET.fromstring(
        unquote(markdown.split(",", 1)[1].removesuffix(">)"))
    )  # valid XML, whatever the names
    return [text.text for text in svg.iter("{http://www.w3.org/2000/svg}text")]


def test_the_inline_map_fits_dagsters_limit_and_never_labels_a_hidden_group():
    from kura_dagster.core.privacy.thresholds import BELOW_THRESHOLD_NAME, WITHHELD_NAME
    from kura_dagster.core.types import ProjectedCluster
    from kura_dagster.core.views.map_image import map_svg_markdown

    def node(i, name, count, parent=None, level=0):
        return ProjectedCluster(
            id=f"n{i}",
            name=name,
            description="",
            slug="s",
            parent_id=parent,
            level=level,
            chat_ids=[f"c{i}-{k}" for k in range(count)],
            x_coord=math.cos(i),
            y_coord=math.sin(i),
        )

    hostile = "</text><script>alert(1)</script>\x1b[2J]( #%"
    roots = [
        node(i, name, 60 - 5 * i)
        for i, name in enumerate(
            [
                "Réinitialiser le mot de passe oublié",
                hostile,
                "Docker build failures",
                "日本語のトピック名前",
                "Refunds",
                "Pandas merges",
                "Shipping delays",
                "Invoices",
                "SQL joins",
                "Login codes",
            ]
        )
    ]
    hidden_root = node(20, BELOW_THRESHOLD_NAME, 30)  # every leaf below it hidden: not drawn at all
    hidden_leaf = node(21, BELOW_THRESHOLD_NAME, 30, parent="n20", level=1)
    withheld = node(22, WITHHELD_NAME, 40)  # content-free name over a shown leaf: drawn, unlabelled
    shown_leaf = node(23, "Billing", 40, parent="n22", level=1)
    markdown = map_svg_markdown(roots + [hidden_root, hidden_leaf, withheld, shown_leaf])
    assert len(markdown) < 1000
    labels = _svg_labels(markdown)
    assert labels[0] == "Réinitialiser le mot de…" and "</text><script>alert(1)" in labels[1]
    assert "\x1b" not in "".join(labels)
    assert not {BELOW_THRESHOLD_NAME, WITHHELD_NAME} & set(labels)
    assert markdown.count("%3Ccircle") == len(labels) + 1  # the withheld root's bubble has no label
    assert markdown.startswith(f"![map of {len(labels) + 1} of 11 top-level topics](<data:image/svg+xml,")
