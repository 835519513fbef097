"""Edits of a copied xlsx package: a sheet put first, cell formats added, macros left out, parts copied.

The annotated copies (validation report, apply results) copy a package part by part and change only
the workbook's sheet list, its relationships, the content types and the styles; these are the
package-level pieces of that, on lxml trees of the (small) parts, by namespace and local name.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from collections.abc import Callable, Mapping
from copy import deepcopy
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree

from pipeline.workbook.package import (
    CONTENT_TYPES,
    MAIN_NS,
    RELS_NS,
    Workbook,
    local,
    namespace,
    override_element,
    parse_xml,
    relationship_element,
    relative_target,
    rels_path,
    serialize,
    unused_rel_id,
)

CHUNK: Final = 1 << 20
COMPRESS_LEVEL: Final = 1  # deflate level of a copy: ~2.5x faster than zlib's default 6, for ~25% more bytes
WORKSHEET_TYPE: Final = RELS_NS + "/worksheet"
WORKSHEET_CONTENT: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
TAB_SELECTED: Final = re.compile(rb"""\stabSelected\s*=\s*(?:"(?:1|true)"|'(?:1|true)')""")


class EditRefused(ValueError):
    """Something in the package these edits do not handle (the caller has another way)."""


def children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if local(child.tag) == name]


def child(element: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in element if local(c.tag) == name), None)


# --- the sheet list -----------------------------------------------------------------------------------------


@dataclass
class Placement:
    """A worksheet put first and made the active tab: its part and the package parts that say so."""

    part: str
    workbook: bytes
    rels: etree._Element
    content_types: etree._Element
    dropped: frozenset[str]  # parts of an earlier sheet of that name the copy leaves out


def place_first(book: Workbook, content_types: bytes, title: str, members: set[str]) -> Placement:
    """Put a worksheet `title` first: the part of an earlier sheet of that name is reused, else a part is added."""
    root = deepcopy(book.root)
    rels = deepcopy(book.rels_root)
    types = parse_xml(content_types)
    sheets = next((e for e in root if local(e.tag) == "sheets"), None)
    if sheets is None:
        raise EditRefused("workbook.xml has no <sheets>")
    earlier = book.sheet(title)
    if earlier is not None and earlier.kind != "worksheet":
        raise EditRefused(f"a {earlier.kind or 'sheet without a part'} is named {title!r}")
    if earlier is not None:
        sheet_id, rel_id, part = earlier.element.get("sheetId", ""), earlier.rel_id, earlier.part
        dropped = frozenset({rels_path(part)} & members)
    else:
        declared = {e.get("PartName", "").lstrip("/") for e in types}
        part = next(f"xl/worksheets/sheet{n}.xml" for n in range(1, len(members) + 2)
                    if f"xl/worksheets/sheet{n}.xml" not in members | declared)
        rel_id = unused_rel_id(rels)
        rels.append(relationship_element(rel_id, WORKSHEET_TYPE, relative_target(book.part, part)))
        types.append(override_element(part, WORKSHEET_CONTENT))
        ids = [int(s.element.get("sheetId", "0")) for s in book.sheets if s.element.get("sheetId", "").isdigit()]
        sheet_id, dropped = str(max(ids, default=0) + 1), frozenset()
    copies = [e for e in sheets if local(e.tag) == "sheet"]  # in the order of book.sheets
    if len(copies) != len(book.sheets):
        raise EditRefused("a <sheet> outside <sheets>")
    kept = [n for n, s in enumerate(book.sheets) if s is not earlier]
    moved = {old: position for position, old in enumerate(kept, start=1)}
    for element in list(sheets):
        sheets.remove(element)
    sheet_ns = namespace(sheets.tag)
    nsmap = None if RELS_NS in sheets.nsmap.values() else {"r": RELS_NS}
    first = etree.SubElement(sheets, f"{{{sheet_ns}}}sheet" if sheet_ns else "sheet", nsmap=nsmap)
    first.set("name", title)
    first.set("sheetId", sheet_id)
    first.set(f"{{{RELS_NS}}}id", rel_id)
    for old in kept:
        sheets.append(copies[old])
    _renumber_local_names(root, moved)
    for view in root.iter(etree.Element):
        if local(view.tag) == "workbookView":
            for name in ("activeTab", "firstSheet"):
                if view.get(name) is not None:
                    view.set(name, "0")
    return Placement(part, serialize(root), rels, types, dropped)


def _renumber_local_names(root: etree._Element, moved: Mapping[int, int]) -> None:
    """Defined names local to a sheet name it by position, which the new first sheet shifts; the names of
    a replaced sheet go with it."""
    for names in children(root, "definedNames"):
        for name in children(names, "definedName"):
            local_id = name.get("localSheetId")
            if local_id is None or not local_id.isdigit():
                continue
            position = moved.get(int(local_id))
            if position is None:
                names.remove(name)
            else:
                name.set("localSheetId", str(position))


# --- macros: a copy is an .xlsx, so an .xlsm renamed .xlsx loses its VBA project ------------------------------

_MACRO_PART: Final = re.compile(r"(?:^|/)vbaProject[^/]*\.bin$", re.I)  # the project and its signatures
_MACRO_TYPES: Final = {
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml":
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
    "application/vnd.ms-excel.template.macroEnabled.main+xml":
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
}


def macro_parts(archive: zipfile.ZipFile) -> set[str]:
    """The VBA project, its signatures and their relationship parts: never copied."""
    parts = {info.filename for info in archive.infolist() if _MACRO_PART.search(info.filename)}
    return parts | {rels_path(part) for part in parts if rels_path(part) in archive.NameToInfo}


def without_macros(rels: etree._Element, types: etree._Element, macros: set[str]) -> tuple[bytes, bytes]:
    """The workbook's relationships and the content types without the VBA project, the workbook typed as
    a plain (macro-free) workbook."""
    for element in types:
        plain = _MACRO_TYPES.get(element.get("ContentType", ""))
        if plain is not None:
            element.set("ContentType", plain)
    if macros:
        for element in list(rels):
            if _MACRO_PART.search(element.get("Target", "")):
                rels.remove(element)
        for element in list(types):
            if _MACRO_PART.search(element.get("PartName", "")) or "vbaProject" in element.get("ContentType", ""):
                types.remove(element)
    return serialize(rels), serialize(types)


# --- styles ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Format:
    """What a derived cell format changes: font bits, a solid fill, a number format (None: keep the base's)."""

    bold: bool = False
    underline: bool = False
    size: float | None = None
    color: str | None = None
    fill: str | None = None
    number_format: int | None = None

    @property
    def has_font(self) -> bool:
        return self.bold or self.underline or self.color is not None or self.size is not None

    @property
    def is_plain(self) -> bool:
        return not self.has_font and self.fill is None and self.number_format is None


class Styles:
    """The styles part with the fonts, fills and cell formats a copy needs appended, each made once."""

    def __init__(self, xml: bytes) -> None:
        self.root = parse_xml(xml)
        self.ns = namespace(self.root.tag)
        self.blocks = {}
        for name in ("fonts", "fills", "cellXfs"):
            block = child(self.root, name)
            if block is None:
                raise EditRefused(f"the styles part has no <{name}>")
            self.blocks[name] = block
        self.made: dict[tuple[str, Any], int] = {}

    def _tag(self, name: str) -> str:
        return f"{{{self.ns}}}{name}" if self.ns else name

    def _add(self, block: str, key: Any, element: Callable[[], etree._Element]) -> int:
        made = self.made.get((block, key))
        if made is None:
            parent = self.blocks[block]
            made = len(parent)
            parent.append(element())
            self.made[(block, key)] = made
        return made

    def _base(self, block: str, index: int) -> etree._Element | None:
        items = self.blocks[block]
        if not len(items):
            return None
        return items[index if 0 <= index < len(items) else 0]

    def xf(self, base: int, change: Format) -> int:
        """The cell format `base` with `change` applied (the base itself when nothing changes)."""
        if change.is_plain:
            return base
        return self._add("cellXfs", (base, change), lambda: self._derived_xf(base, change))

    def _derived_xf(self, base: int, change: Format) -> etree._Element:
        original = self._base("cellXfs", base)
        xf = deepcopy(original) if original is not None else etree.Element(self._tag("xf"))
        if change.has_font:
            xf.set("fontId", str(self._font(int(xf.get("fontId", "0") or 0), change)))
            xf.set("applyFont", "1")
        if change.fill is not None:
            xf.set("fillId", str(self._fill(change.fill)))
            xf.set("applyFill", "1")
        if change.number_format is not None:
            xf.set("numFmtId", str(change.number_format))
            xf.set("applyNumberFormat", "1")
        return xf

    def _font(self, base: int, change: Format) -> int:
        def element() -> etree._Element:
            original = self._base("fonts", base)
            font = deepcopy(original) if original is not None else etree.Element(self._tag("font"))
            for name, wanted in (("b", change.bold), ("u", change.underline), ("sz", change.size is not None),
                                 ("color", change.color is not None)):
                if wanted:
                    for old in children(font, name):
                        font.remove(old)
                    new = etree.SubElement(font, self._tag(name))
                    if name == "sz":
                        new.set("val", f"{change.size:g}")
                    elif name == "color":
                        new.set("rgb", change.color or "")
            return font

        return self._add("fonts", (base, change.bold, change.underline, change.size, change.color), element)

    def _fill(self, argb: str) -> int:
        def element() -> etree._Element:
            fill = etree.Element(self._tag("fill"))
            pattern = etree.SubElement(fill, self._tag("patternFill"), patternType="solid")
            etree.SubElement(pattern, self._tag("fgColor"), rgb=argb)
            etree.SubElement(pattern, self._tag("bgColor"), rgb=argb)
            return fill

        return self._add("fills", argb, element)

    def to_xml(self) -> bytes:
        for block in self.blocks.values():
            block.set("count", str(len(block)))
        return serialize(self.root)


# --- copying parts --------------------------------------------------------------------------------------------


def member(info: zipfile.ZipInfo | str) -> zipfile.ZipInfo:
    """A fresh entry for the copy (deflated), keeping the original's name, time and attributes."""
    if isinstance(info, str):
        entry = zipfile.ZipInfo(info, date_time=(1980, 1, 1, 0, 0, 0))
    else:
        entry = zipfile.ZipInfo(info.filename, date_time=info.date_time)
        entry.external_attr = info.external_attr
        entry.file_size = info.file_size  # lets zipfile decide on zip64 for a copy
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry._compresslevel = COMPRESS_LEVEL  # noqa: SLF001 - read by ZipFile.open(entry, "w"); no public setter
    return entry


def copy_part(archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: zipfile.ZipFile) -> None:
    with archive.open(info) as source, out.open(member(info), "w") as target:
        shutil.copyfileobj(source, target, CHUNK)


def copy_unselected(archive: zipfile.ZipFile, info: zipfile.ZipInfo, out: zipfile.ZipFile, *, worksheet: bool
                    ) -> None:
    """Copy a sheet unselecting its tab: another sheet is the selected one now, and two selected tabs are a
    group that Excel edits together. Only the part before <sheetData> is looked at."""
    with archive.open(info) as source, out.open(member(info), "w") as target:
        head = source.read(CHUNK)
        while worksheet and b"sheetData" not in head and (more := source.read(CHUNK)):
            head += more
        if not worksheet:
            head += source.read()
        end = head.find(b"sheetData") if worksheet else len(head)
        end = len(head) if end < 0 else end
        target.write(TAB_SELECTED.sub(b"", head[:end]) + head[end:])
        shutil.copyfileobj(source, target, CHUNK)


__all__ = ["COMPRESS_LEVEL", "CONTENT_TYPES", "MAIN_NS", "EditRefused", "Format", "Placement", "Styles", "copy_part",
           "copy_unselected", "macro_parts", "member", "place_first", "without_macros"]
