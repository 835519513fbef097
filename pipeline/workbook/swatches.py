"""The colour preview of swatch colours: a `colors` cell filled with the colours it lists.

A hex code says little to a person; the cell's own fill shows the swatch. It is formatting only,
so nothing new is read back: the text stays the data. One colour fills the cell; two or three are
side by side in bands (a gradient with hard stops). The text is written in white on dark colours
so it stays readable. Text that is not a list of hex colours gets no fill.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from openpyxl.styles import Font, GradientFill, PatternFill
from openpyxl.styles.fills import Fill, Stop

from pipeline.modifier_types import MAX_SWATCH_COLORS
from pipeline.normalise import LIST_SEPARATOR

_HEX: Final = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
_EDGE: Final = 0.001  # stops may not share a position
_DARK: Final = 0.179  # relative luminance below which white text contrasts more than black (WCAG)
FONT_NAME: Final = "Calibri"  # the workbook's default font; a font without a name falls back to a serif  # relative luminance below which white text reads better than black


class Preview(NamedTuple):
    fill: Fill
    font: Font


def parse_colours(text: str) -> list[str] | None:
    """`#ff0000,#00f` -> ['FF0000', '0000FF']; None unless every item is a hex colour (at most 3)."""
    items = [item.strip() for item in text.split(LIST_SEPARATOR)]
    if not 0 < len(items) <= MAX_SWATCH_COLORS:
        return None
    out = []
    for item in items:
        match = _HEX.fullmatch(item)
        if match is None:
            return None
        digits = match.group(1).upper()
        out.append(digits if len(digits) == 6 else "".join(d * 2 for d in digits))
    return out


def preview(text: str) -> Preview | None:
    """The fill and font that preview the colours of one `colors` cell; None when it lists none."""
    colours = parse_colours(text)
    if colours is None:
        return None
    if len(colours) == 1:
        fill: Fill = PatternFill("solid", start_color="FF" + colours[0], end_color="FF" + colours[0])
    else:  # bands: each colour from its start to just before the next one's, so the edges are sharp
        stops = []
        for index, colour in enumerate(colours):
            start, end = index / len(colours), (index + 1) / len(colours)
            stops += [Stop("FF" + colour, round(start + (_EDGE if index else 0), 3)),
                      Stop("FF" + colour, round(end, 3))]
        fill = GradientFill(degree=0, stop=stops)
    # the text starts over the first colour (and a program without gradients shows only that one)
    dark = _luminance(colours[0]) < _DARK
    return Preview(fill, Font(name=FONT_NAME, size=11, color="FFFFFFFF" if dark else "FF000000"))


def _luminance(colour: str) -> float:
    """WCAG relative luminance of `RRGGBB`."""
    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
    red, green, blue = (channel(colour[i:i + 2]) for i in (0, 2, 4))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue
