"""The colour preview of swatch colours: a `colors` cell filled with the colours it lists.

A hex code says little to a person; the cell's own fill shows the swatch. It is formatting only,
so nothing new is read back: the text stays the data. One colour fills the cell; two or three are
side by side in bands (a gradient with sharp edges; a program without gradient fills, such as
LibreOffice, shows the first colour). The text is black or white, whichever contrasts more with
the first colour, which it starts over. Text that is not a list of hex colours gets no fill.

Catalogs can hold thousands of distinct colour lists, so fills and cell formats are written as
XML text into the workbook's style sheet (`PreviewStyles`) rather than built as openpyxl objects,
which cost a millisecond each.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from pipeline.modifier_types import MAX_SWATCH_COLORS
from pipeline.normalise import LIST_SEPARATOR

_HEX: Final = re.compile(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")
_EDGE: Final = 0.001  # gradient stops may not share a position
_DARK: Final = 0.179  # relative luminance below which white text contrasts more than black (WCAG)
FONT_NAME: Final = "Calibri"  # the workbook's default font; a font without a name falls back to a serif
TEXT_FORMAT_ID: Final = 49  # the built-in "@" (text) number format


class Preview(NamedTuple):
    fill: str  # a <fill> element
    dark: bool  # white text reads better on it


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
    """The fill previewing the colours of one `colors` cell; None when it lists none."""
    colours = parse_colours(text)
    if colours is None:
        return None
    if len(colours) == 1:
        fill = (f'<fill><patternFill patternType="solid"><fgColor rgb="FF{colours[0]}"/><bgColor rgb="FF{colours[0]}"/>'
                "</patternFill></fill>")
    else:  # bands: each colour from its start to just before the next one's, so the edges are sharp
        stops = []
        for index, colour in enumerate(colours):
            start = index / len(colours) + (_EDGE if index else 0)
            end = (index + 1) / len(colours)
            stops += [f'<stop position="{round(start, 3):g}"><color rgb="FF{colour}"/></stop>',
                      f'<stop position="{round(end, 3):g}"><color rgb="FF{colour}"/></stop>']
        fill = f'<fill><gradientFill degree="0">{"".join(stops)}</gradientFill></fill>'
    return Preview(fill, _luminance(colours[0]) < _DARK)


def _luminance(colour: str) -> float:
    """WCAG relative luminance of `RRGGBB`."""
    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4
    red, green, blue = (channel(colour[i:i + 2]) for i in (0, 2, 4))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


_COUNTED: Final = {name: re.compile(rf'<{name} count="(\d+)"') for name in ("fonts", "fills", "cellXfs")}
_FONTS: Final = (f'<font><name val="{FONT_NAME}"/><color rgb="FF000000"/><sz val="11"/></font>'
                 f'<font><name val="{FONT_NAME}"/><color rgb="FFFFFFFF"/><sz val="11"/></font>')


class PreviewStyles:
    """Cell formats (xf ids) of previewed colour lists, appended to a style sheet openpyxl wrote.

    `xf_id` hands out ids after the style sheet's own formats; `styles_xml` gives the style sheet
    with the fills, the two text colours and the formats added (unchanged when none was asked for).
    """

    def __init__(self, styles_xml: str) -> None:
        self.counts = {name: int(_find(pattern, styles_xml)) for name, pattern in _COUNTED.items()}
        self.fills: dict[str, int] = {}  # <fill> -> position among the added fills
        self.formats: dict[tuple[int, bool], int] = {}  # (added fill, dark) -> xf id

    def xf_id(self, shown: Preview) -> int:
        fill = self.fills.setdefault(shown.fill, len(self.fills))
        return self.formats.setdefault((fill, shown.dark), self.counts["cellXfs"] + len(self.formats))

    def styles_xml(self, styles_xml: str) -> str:
        if not self.formats:
            return styles_xml
        fonts, fills = self.counts["fonts"], self.counts["fills"]
        formats = "".join(
            f'<xf numFmtId="{TEXT_FORMAT_ID}" fontId="{fonts + dark}" fillId="{fills + fill}" borderId="0" '
            'applyNumberFormat="1" applyFont="1" applyFill="1" xfId="0"/>'
            for (fill, dark) in self.formats)
        additions = {"fonts": _FONTS, "fills": "".join(self.fills), "cellXfs": formats}
        added = {"fonts": 2, "fills": len(self.fills), "cellXfs": len(self.formats)}
        for name, xml in additions.items():
            closing = f"</{name}>"
            if styles_xml.count(closing) != 1:
                raise AssertionError(f"unexpected style sheet: {closing} is not there once")
            styles_xml = _COUNTED[name].sub(f'<{name} count="{self.counts[name] + added[name]}"', styles_xml, count=1)
            styles_xml = styles_xml.replace(closing, xml + closing)
        return styles_xml


def _find(pattern: re.Pattern[str], text: str) -> str:
    match = pattern.search(text)
    if match is None:
        raise AssertionError(f"unexpected style sheet: no {pattern.pattern}")
    return match.group(1)
