"""Swatch colour previews: which text gets a fill, the fill itself, and the style sheet they go into."""

from __future__ import annotations

import re

import pytest

from pipeline.workbook.swatches import PreviewStyles, parse_colours, preview

STYLES = ('<styleSheet><fonts count="2"><font/><font/></fonts><fills count="3"><fill/><fill/><fill/></fills>'
          '<cellXfs count="4"><xf/><xf/><xf/><xf/></cellXfs></styleSheet>')


@pytest.mark.parametrize(("text", "colours"), [
    ("#ff0000", ["FF0000"]), ("#F00, #00ff00", ["FF0000", "00FF00"]),
    ("#000,#111,#222", ["000000", "111111", "222222"]),
    ("#000,#111,#222,#333", None), ("red", None), ("#ff00", None), ("", None), ("#ff0000,", None),
])
def test_only_lists_of_one_to_three_hex_colours_are_previewed(text, colours):
    assert parse_colours(text) == colours
    assert (preview(text) is None) == (colours is None)


def test_one_colour_fills_and_several_make_sharp_bands_with_readable_text():
    red = preview("#ff0000")
    assert 'patternType="solid"' in red.fill and 'rgb="FFFF0000"' in red.fill and not red.dark  # black on red
    navy = preview("#000080,#ffffff")
    positions = [float(p) for p in re.findall(r'position="([\d.]+)"', navy.fill)]
    assert "<gradientFill" in navy.fill and positions == sorted(positions) and len(set(positions)) == 4
    assert navy.dark  # white text: it starts over the navy band


def test_formats_are_added_after_the_style_sheets_own_and_shared_by_equal_previews():
    styles = PreviewStyles(STYLES)
    ids = [styles.xf_id(preview(t)) for t in ("#ff0000", "#000080", "#FF0000", "#f00")]
    assert ids == [4, 5, 4, 4]
    xml = styles.styles_xml(STYLES)
    assert '<fonts count="4">' in xml and '<fills count="5">' in xml and '<cellXfs count="6">' in xml
    added = re.findall(r'<xf numFmtId="49" fontId="(\d)" fillId="(\d)"', xml)
    assert added == [("2", "3"), ("3", "4")]  # black text on red, white on navy
    assert PreviewStyles(STYLES).styles_xml(STYLES) == STYLES  # nothing previewed, nothing changed
