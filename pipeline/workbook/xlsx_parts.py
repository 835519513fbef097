"""The fixed parts of the export's xlsx package, written as XML text.

Everything but the data rows is small and the same in kind for every export: the manifest and the
relationships, workbook.xml (sheet states, autofilter and print-title names), a style sheet with the
handful of cell formats the writer uses, each worksheet's head and tail (frozen panes, column widths
and default styles, autofilter, drop-down validations, print setup), the header notes (comments
and the legacy VML drawing Excel and LibreOffice show them with) and the document properties.
Writing them as text costs a few milliseconds; building them with openpyxl cost a third of a second
of import and a fifth of a second of work, which was most of a small export's own time.

The parts follow what Excel writes (and what openpyxl wrote before): the same part names
(`xl/worksheets/sheetN.xml` in tab order, `xl/comments/commentN.xml`,
`xl/drawings/commentsDrawingN.vml`), `xmlns:r` declared on the worksheet root.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from pipeline.workbook.cell_refs import column_letters

XML_HEAD: Final = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
MAIN_NS: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL_NS: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL_NS: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_REL: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_CT: Final = "application/vnd.openxmlformats-officedocument."
TEXT_FORMAT: Final = 49  # built-in "@"
INTEGER_FORMAT: Final = 1  # built-in "0"
GENERAL_FORMAT: Final = 0
FIRST_CUSTOM_FORMAT: Final = 164


def attr(text: str) -> str:
    """`text` escaped for a double-quoted XML attribute (newlines and tabs kept as characters)."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
            .replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;"))


def body(text: str) -> str:
    """`text` escaped for an element's content."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def sheet_part(position: int) -> str:
    """The worksheet part of the sheet at 1-based tab `position`."""
    return f"xl/worksheets/sheet{position}.xml"


# --- styles ---------------------------------------------------------------------------------------------

# fonts: the default (theme text colour, as Excel's), the README's title, bold (headers, README headings)
FONT_DEFAULT, FONT_TITLE, FONT_BOLD = 0, 1, 2
_FONTS: Final = (
    '<font><name val="{name}"/><family val="2"/><color theme="1"/><sz val="11"/><scheme val="minor"/></font>',
    '<font><name val="{name}"/><b val="1"/><sz val="14"/></font>',
    '<font><name val="{name}"/><b val="1"/><sz val="11"/></font>',
)
# fills 0 and 1 are reserved by the format (none, gray125)
FILL_NONE, FILL_HEADER, FILL_GREY_HEADER, FILL_GREY = 0, 2, 3, 4
_FILLS: Final = (
    '<fill><patternFill/></fill>',
    '<fill><patternFill patternType="gray125"/></fill>',
    '<fill><patternFill patternType="solid"><fgColor rgb="FFDDEBF7"/></patternFill></fill>',
    '<fill><patternFill patternType="solid"><fgColor rgb="FFD0CECE"/></patternFill></fill>',
    '<fill><patternFill patternType="solid"><fgColor rgb="FFE7E6E6"/></patternFill></fill>',
)


@dataclass(frozen=True)
class CellFormat:
    """One cell format (an xf of cellXfs); `alignment` is the `<alignment>` element's attributes."""

    number_format: int = GENERAL_FORMAT
    font: int = FONT_DEFAULT
    fill: int = FILL_NONE
    alignment: str = ""

    def xml(self) -> str:
        applied = "".join((' applyNumberFormat="1"' if self.number_format else "",
                           ' applyFont="1"' if self.font else "",
                           ' applyFill="1"' if self.fill else "",
                           ' applyAlignment="1"' if self.alignment else ""))
        head = (f'<xf numFmtId="{self.number_format}" fontId="{self.font}" fillId="{self.fill}" borderId="0" '
                f'xfId="0"{applied}')
        return f"{head}><alignment {self.alignment}/></xf>" if self.alignment else f"{head}/>"


@dataclass
class StyleSheet:
    """The style sheet's cell formats, handed out as xf ids as they are asked for (xf 0 is the default)."""

    font_name: str
    custom_formats: dict[str, int] = field(default_factory=dict)  # format code -> numFmtId
    formats: dict[CellFormat, int] = field(default_factory=lambda: {CellFormat(): 0})

    def number_format(self, code: str) -> int:
        builtin = {"General": GENERAL_FORMAT, "0": INTEGER_FORMAT, "@": TEXT_FORMAT}.get(code)
        if builtin is not None:
            return builtin
        return self.custom_formats.setdefault(code, FIRST_CUSTOM_FORMAT + len(self.custom_formats))

    def xf(self, fmt: CellFormat) -> int:
        return self.formats.setdefault(fmt, len(self.formats))

    def xml(self) -> str:
        numfmts = "".join(f'<numFmt numFmtId="{n}" formatCode="{attr(code)}"/>' for code, n in self.custom_formats.items())
        fonts = "".join(font.format(name=attr(self.font_name)) for font in _FONTS)
        return (f'{XML_HEAD}<styleSheet xmlns="{MAIN_NS}">'
                + (f'<numFmts count="{len(self.custom_formats)}">{numfmts}</numFmts>' if self.custom_formats else "")
                + f'<fonts count="{len(_FONTS)}">{fonts}</fonts>'
                f'<fills count="{len(_FILLS)}">{"".join(_FILLS)}</fills>'
                '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
                '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
                f'<cellXfs count="{len(self.formats)}">{"".join(f.xml() for f in self.formats)}</cellXfs>'
                '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
                '<dxfs count="0"/><tableStyles count="0" defaultTableStyle="TableStyleMedium9" '
                'defaultPivotStyle="PivotStyleLight16"/></styleSheet>')


# --- package, workbook ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SheetEntry:
    """One sheet of the workbook as workbook.xml lists it."""

    title: str
    state: str = "visible"  # visible, hidden, veryHidden
    filter_ref: str | None = None  # the autofilter's range ("A1:I297"), named _FilterDatabase
    print_titles: bool = False  # repeat row 1 on every printed page
    commented: bool = False  # has header notes (a comments part and a VML drawing)


def commented_numbers(sheets: Sequence[SheetEntry]) -> dict[int, int]:
    """Sheet position (1-based) -> the number of its comments and drawing parts (1, 2, ... in tab order)."""
    out: dict[int, int] = {}
    for position, sheet in enumerate(sheets, start=1):
        if sheet.commented:
            out[position] = len(out) + 1
    return out


def content_types(sheets: Sequence[SheetEntry]) -> str:
    overrides = [("/xl/workbook.xml", "spreadsheetml.sheet.main+xml"), ("/xl/styles.xml", "spreadsheetml.styles+xml"),
                 ("/xl/theme/theme1.xml", "theme+xml"), ("/xl/sharedStrings.xml", "spreadsheetml.sharedStrings+xml")]
    overrides += [(f"/{sheet_part(n)}", "spreadsheetml.worksheet+xml") for n in range(1, len(sheets) + 1)]
    overrides += [(f"/xl/comments/comment{n}.xml", "spreadsheetml.comments+xml")
                  for n in commented_numbers(sheets).values()]
    items = "".join(f'<Override PartName="{name}" ContentType="{_CT}{kind}"/>' for name, kind in overrides)
    return (f'{XML_HEAD}<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Default Extension="vml" ContentType="{_CT}vmlDrawing"/>'
            '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.'
            'core-properties+xml"/>'
            f'<Override PartName="/docProps/app.xml" ContentType="{_CT}extended-properties+xml"/>'
            f"{items}</Types>")


def relationships(items: Iterable[tuple[str, str, str]]) -> str:
    """A relationships part of (id, type, target) items."""
    rels = "".join(f'<Relationship Id="{rid}" Type="{kind}" Target="{attr(target)}"/>' for rid, kind, target in items)
    return f'{XML_HEAD}<Relationships xmlns="{PKG_REL_NS}">{rels}</Relationships>'


def root_rels() -> str:
    return relationships([
        ("rId1", _DOC_REL + "officeDocument", "xl/workbook.xml"),
        ("rId2", "http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties",
         "docProps/core.xml"),
        ("rId3", _DOC_REL + "extended-properties", "docProps/app.xml"),
    ])


def workbook_rels(n_sheets: int) -> str:
    items = [(f"rId{n}", _DOC_REL + "worksheet", f"worksheets/sheet{n}.xml") for n in range(1, n_sheets + 1)]
    items += [(f"rId{n_sheets + 1}", _DOC_REL + "styles", "styles.xml"),
              (f"rId{n_sheets + 2}", _DOC_REL + "theme", "theme/theme1.xml"),
              (f"rId{n_sheets + 3}", _DOC_REL + "sharedStrings", "sharedStrings.xml")]
    return relationships(items)


def quoted_sheet(title: str) -> str:
    """A sheet name as a formula refers to it: 'Choice modifiers'."""
    return "'" + title.replace("'", "''") + "'"


def absolute_range(ref: str) -> str:
    """A1:I297 -> $A$1:$I$297."""
    out = []
    for cell in ref.split(":"):
        letters = cell.rstrip("0123456789")
        out.append(f"${letters}${cell[len(letters):]}")
    return ":".join(out)


def workbook_xml(sheets: Sequence[SheetEntry]) -> str:
    entries = "".join(f'<sheet name="{attr(s.title)}" sheetId="{n}" state="{s.state}" r:id="rId{n}"/>'
                      for n, s in enumerate(sheets, start=1))
    names = []
    for index, sheet in enumerate(sheets):
        if sheet.filter_ref:
            names.append(f'<definedName name="_xlnm._FilterDatabase" localSheetId="{index}" hidden="1">'
                         f"{body(quoted_sheet(sheet.title))}!{absolute_range(sheet.filter_ref)}</definedName>")
        if sheet.print_titles:
            names.append(f'<definedName name="_xlnm.Print_Titles" localSheetId="{index}">'
                         f"{body(quoted_sheet(sheet.title))}!$1:$1</definedName>")
    defined = f"<definedNames>{''.join(names)}</definedNames>" if names else ""
    return (f'{XML_HEAD}<workbook xmlns="{MAIN_NS}" xmlns:r="{REL_NS}"><workbookPr/>'
            '<bookViews><workbookView activeTab="0"/></bookViews>'
            f"<sheets>{entries}</sheets>{defined}<calcPr calcId=\"124519\" fullCalcOnLoad=\"1\"/></workbook>")


def app_xml(titles: Sequence[str]) -> str:
    names = "".join(f"<vt:lpstr>{body(t)}</vt:lpstr>" for t in titles)
    return (f'{XML_HEAD}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" '
            'xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
            "<Application>bcmod</Application><HeadingPairs><vt:vector size=\"2\" baseType=\"variant\">"
            f"<vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant><vt:variant><vt:i4>{len(titles)}</vt:i4>"
            f'</vt:variant></vt:vector></HeadingPairs><TitlesOfParts><vt:vector size="{len(titles)}" '
            f'baseType="lpstr">{names}</vt:vector></TitlesOfParts></Properties>')


def core_xml(creator: str, created: str) -> str:
    """`created`: W3CDTF, e.g. 2026-12-01T19:09:58Z."""
    return (f'{XML_HEAD}<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
            'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f"<dc:creator>{body(creator)}</dc:creator>"
            f'<dcterms:created xsi:type="dcterms:W3CDTF">{created}</dcterms:created>'
            f'<dcterms:modified xsi:type="dcterms:W3CDTF">{created}</dcterms:modified></cp:coreProperties>')


# --- worksheets -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnFormat:
    """A `<col>`: its width and, when it has one, its default cell format (for rows typed later)."""

    width: float
    style: int | None = None


@dataclass(frozen=True)
class Validation:
    """A drop-down list on `ranges` (space-separated in sqref) of `choices`."""

    choices: tuple[str, ...]
    ranges: tuple[str, ...]

    def xml(self) -> str:
        error = "Pick one of: " + ", ".join(self.choices) + " (or leave blank)."
        return (f'<dataValidation type="list" allowBlank="1" showErrorMessage="1" errorTitle="Not allowed" '
                f'error="{attr(error)}" sqref="{" ".join(self.ranges)}">'
                f'<formula1>{body(chr(34) + ",".join(self.choices) + chr(34))}</formula1></dataValidation>')


def _number(value: float) -> str:
    return f"{value:.6g}"


def worksheet_head(*, dimension: str, columns: Sequence[ColumnFormat], frozen_columns: int | None,
                   fit_to_page: bool = True) -> str:
    """Everything before `<sheetData>`. `frozen_columns`: None for no frozen pane, else the header row
    and that many leading columns stay in view."""
    if frozen_columns is None:
        view = '<sheetView workbookViewId="0"><selection activeCell="A1" sqref="A1"/></sheetView>'
    elif frozen_columns == 0:
        view = ('<sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
                'state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView>')
    else:
        corner = f"{column_letters(frozen_columns + 1)}2"
        view = (f'<sheetView workbookViewId="0"><pane xSplit="{frozen_columns}" ySplit="1" topLeftCell="{corner}" '
                'activePane="bottomRight" state="frozen"/><selection pane="topRight"/><selection pane="bottomLeft"/>'
                f'<selection pane="bottomRight" activeCell="{corner}" sqref="{corner}"/></sheetView>')
    cols = "".join(
        f'<col min="{n}" max="{n}" width="{_number(c.width)}" customWidth="1"'
        + (f' style="{c.style}"' if c.style is not None else "") + "/>"
        for n, c in enumerate(columns, start=1))
    sheet_pr = '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>' if fit_to_page else ""
    return (f'{XML_HEAD}<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">{sheet_pr}<dimension ref="{dimension}"/>'
            f'<sheetViews>{view}</sheetViews><sheetFormatPr baseColWidth="8" defaultRowHeight="15"/>'
            + (f"<cols>{cols}</cols>" if cols else ""))


def worksheet_tail(*, filter_ref: str | None = None, validations: Sequence[Validation] = (),
                   landscape: bool = False, commented: bool = False) -> str:
    """Everything after `</sheetData>`, in the schema's order."""
    parts = []
    if filter_ref:
        parts.append(f'<autoFilter ref="{filter_ref}"/>')
    if validations:
        parts.append(f'<dataValidations count="{len(validations)}">{"".join(v.xml() for v in validations)}'
                     "</dataValidations>")
    parts.append('<pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/>')
    parts.append('<pageSetup' + (' orientation="landscape"' if landscape else "") + ' fitToHeight="0" fitToWidth="1"/>')
    if commented:
        parts.append('<legacyDrawing r:id="rId2"/>')
    return "".join(parts) + "</worksheet>"


def sheet_rels(number: int) -> str:
    """The relationships of a commented sheet: its comments (rId1) and their drawing (rId2)."""
    return relationships([("rId1", _DOC_REL + "comments", f"../comments/comment{number}.xml"),
                          ("rId2", _DOC_REL + "vmlDrawing", f"../drawings/commentsDrawing{number}.vml")])


@dataclass(frozen=True)
class Note:
    """A header note: the cell's column (1-based, row 1), its text, and the box's size in pixels."""

    column: int
    text: str
    width: int
    height: int


def comments_xml(author: str, notes: Sequence[Note]) -> str:
    items = "".join(f'<comment ref="{column_letters(n.column)}1" authorId="0"><text><t xml:space="preserve">'
                    f"{body(n.text)}</t></text></comment>" for n in notes)
    return (f'{XML_HEAD}<comments xmlns="{MAIN_NS}"><authors><author>{body(author)}</author></authors>'
            f"<commentList>{items}</commentList></comments>")


def vml_xml(number: int, notes: Sequence[Note]) -> str:
    """The legacy drawing Excel shows notes with: one hidden text box per note, anchored at its cell.
    Shape ids are unique across the workbook (1024 per drawing, as Excel numbers them)."""
    shapes = "".join(
        f'<v:shape id="_x0000_s{1024 * number + index + 1}" type="#_x0000_t202" '
        f'style="position:absolute;margin-left:59.25pt;margin-top:1.5pt;width:{n.width}px;height:{n.height}px;'
        'z-index:1;visibility:hidden" fillcolor="#ffffe1" o:insetmode="auto"><v:fill color2="#ffffe1"/>'
        '<v:shadow on="t" color="black" obscured="t"/><v:path o:connecttype="none"/>'
        '<v:textbox style="mso-direction-alt:auto"><div style="text-align:left"/></v:textbox>'
        '<x:ClientData ObjectType="Note"><x:MoveWithCells/><x:SizeWithCells/><x:AutoFill>False</x:AutoFill>'
        f"<x:Row>0</x:Row><x:Column>{n.column - 1}</x:Column></x:ClientData></v:shape>"
        for index, n in enumerate(notes))
    return ('<xml xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
            'xmlns:x="urn:schemas-microsoft-com:office:excel">'
            f'<o:shapelayout v:ext="edit"><o:idmap v:ext="edit" data="{number}"/></o:shapelayout>'
            '<v:shapetype id="_x0000_t202" coordsize="21600,21600" o:spt="202" path="m,l,21600r21600,l21600,xe">'
            '<v:stroke joinstyle="miter"/><v:path gradientshapeok="t" o:connecttype="rect"/></v:shapetype>'
            f"{shapes}</xml>")
