"""The xlsx package: which part is which sheet, shared strings, cell references, and small part edits.

One reading of the package for everything that opens a workbook by its parts (the validation reader,
the guard, the annotated copies, the writer): the workbook part is found through the package's own
relationships, sheet parts through workbook.xml and its relationships, matched by namespace and
local name on lxml. Where a writer declares a namespace (on the root, or on each element as
openpyxl does with lxml installed) and which prefix it binds (`r:`, `ns0:`, `x:` ...) do not
matter; relationship targets are resolved the way OPC says (relative to the source part, or
absolute from the package root), percent-decoded and normalised.

Parsing is hardened: no DTD loading, no entity expansion, no network.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import IO, Final
from urllib.parse import unquote

from lxml import etree


MAIN_NS: Final = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT_MAIN_NS: Final = "http://purl.oclc.org/ooxml/spreadsheetml/main"
RELS_NS: Final = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
STRICT_RELS_NS: Final = "http://purl.oclc.org/ooxml/officeDocument/relationships"
PACKAGE_RELS_NS: Final = "http://schemas.openxmlformats.org/package/2006/relationships"
CONTENT_TYPES_NS: Final = "http://schemas.openxmlformats.org/package/2006/content-types"
CONTENT_TYPES: Final = "[Content_Types].xml"
OFFICE_DOCUMENT: Final = "/officeDocument"  # the end of the workbook relationship's type (both flavours)
DEFAULT_WORKBOOK: Final = "xl/workbook.xml"


class PackageError(ValueError):
    """The package's workbook or its list of sheets cannot be read."""


# --- XML -------------------------------------------------------------------------------------------------

_PARSER_OPTIONS: Final = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}


def xml_parser() -> etree.XMLParser:
    """A parser that loads no DTD, expands no entity and fetches nothing."""
    return etree.XMLParser(remove_blank_text=False, **_PARSER_OPTIONS)


def parse_xml(data: bytes) -> etree._Element:
    """The root of a (small) part; `PackageError` when it is not XML."""
    try:
        return etree.fromstring(data, xml_parser())
    except etree.XMLSyntaxError as exc:
        raise PackageError(f"not XML: {exc}") from None


def iterparse(stream: IO[bytes], events: tuple[str, ...] = ("end",), tag: str | None = None
              ) -> etree.iterparse:
    """`lxml.etree.iterparse` with the same hardening as `parse_xml`."""
    return etree.iterparse(stream, events=events, tag=tag, remove_blank_text=False, **_PARSER_OPTIONS)


def local(tag: object) -> str:
    """The local name of an element tag or attribute name ("" for comments and processing instructions)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def namespace(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def serialize(root: etree._Element) -> bytes:
    """A part as bytes, with the declaration Office writes."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


_ENTITY: Final = re.compile(r"&(?:#(\d+)|#x([0-9a-fA-F]+)|(lt|gt|amp|quot|apos));")
_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def xml_unescape(text: str) -> str:
    """Text as it was before XML escaping: the five named entities and character references."""
    if "&" not in text:
        return text
    return _ENTITY.sub(lambda m: chr(int(m[1])) if m[1] else chr(int(m[2], 16)) if m[2] else _NAMED[m[3]], text)


# --- cell references: see `pipeline.workbook.cell_refs` (no lxml, for the writer) ---------------------------

# --- parts and relationships ---------------------------------------------------------------------------


def part_path(source_part: str, target: str) -> str:
    """The zip member a relationship of `source_part` ("" for the package) points at."""
    target = unquote(target).replace("\\", "/")
    joined = target if target.startswith("/") else posixpath.join("/" + posixpath.dirname(source_part), target)
    return posixpath.normpath(joined).lstrip("/")


def rels_path(part: str) -> str:
    """The relationships part of `part` ("" for the package's own)."""
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


def relative_target(source_part: str, part: str) -> str:
    """How a relationship of `source_part` names `part` (relative, as writers usually do)."""
    return posixpath.relpath("/" + part, "/" + posixpath.dirname(source_part))


@dataclass(frozen=True)
class Relationship:
    id: str
    type: str
    part: str  # the target resolved to a zip member ("" for an external target)
    external: bool

    @property
    def kind(self) -> str:
        """The last piece of the type: "worksheet", "styles", "sharedStrings", ..."""
        return self.type.rsplit("/", 1)[-1]


def relationships(root: etree._Element, source_part: str) -> list[Relationship]:
    out = []
    for element in root:
        if local(element.tag) != "Relationship":
            continue
        external = element.get("TargetMode") == "External"
        target = element.get("Target", "")
        out.append(Relationship(element.get("Id", ""), element.get("Type", ""),
                                "" if external else part_path(source_part, target), external))
    return out


def read_relationships(archive: zipfile.ZipFile, source_part: str) -> list[Relationship]:
    """The relationships of `source_part` (none when it has no relationships part)."""
    name = rels_path(source_part)
    if name not in archive.NameToInfo:
        return []
    return relationships(parse_xml(archive.read(name)), source_part)


def workbook_part(archive: zipfile.ZipFile) -> str | None:
    """The workbook part named by the package's relationships (xl/workbook.xml when they name none)."""
    try:
        found = [r.part for r in read_relationships(archive, "") if r.type.endswith(OFFICE_DOCUMENT)]
    except PackageError:
        found = []
    part = next((p for p in found if p in archive.NameToInfo), None)
    if part is None and DEFAULT_WORKBOOK in archive.NameToInfo:
        return DEFAULT_WORKBOOK
    return part


@dataclass
class SheetEntry:
    """One `<sheet>` of workbook.xml, with its part."""

    name: str
    part: str  # "" when its relationship is missing
    kind: str  # worksheet, chartsheet, dialogsheet, ...
    rel_id: str
    element: etree._Element


@dataclass
class Workbook:
    """workbook.xml (parsed), its relationships part (parsed) and the sheets in tab order."""

    part: str
    root: etree._Element
    rels_root: etree._Element
    sheets: list[SheetEntry]
    relationships: list[Relationship]

    @property
    def rels_part(self) -> str:
        return rels_path(self.part)

    @property
    def strict(self) -> bool:
        return namespace(self.root.tag) == STRICT_MAIN_NS

    def target(self, kind: str) -> str | None:
        """The part of the first relationship of that kind ("styles", "sharedStrings", ...)."""
        return next((r.part for r in self.relationships if r.kind == kind and not r.external), None)

    def sheet(self, name: str) -> SheetEntry | None:
        """The sheet of that name, compared as Excel does (case-insensitively)."""
        return next((s for s in self.sheets if s.name.casefold() == name.casefold()), None)

    @classmethod
    def read(cls, archive: zipfile.ZipFile) -> Workbook:
        """Raises `PackageError` when there is no readable workbook part or list of sheets."""
        part = workbook_part(archive)
        if part is None:
            raise PackageError("the package has no workbook part")
        try:
            root = parse_xml(archive.read(part))
            rels_name = rels_path(part)
            rels_root = parse_xml(archive.read(rels_name)) if rels_name in archive.NameToInfo else \
                etree.Element(f"{{{PACKAGE_RELS_NS}}}Relationships", nsmap={None: PACKAGE_RELS_NS})
        except KeyError as exc:
            raise PackageError(f"a part is missing: {exc}") from None
        if local(root.tag) != "workbook":
            raise PackageError(f"{part} is not a workbook")
        rels = relationships(rels_root, part)
        by_id = {r.id: r for r in rels if not r.external}
        sheets = []
        for element in root.iter(etree.Element):
            if local(element.tag) != "sheet" or local(element.getparent().tag) != "sheets":
                continue
            rel_id = sheet_rel_id(element)
            rel = by_id.get(rel_id or "")
            sheets.append(SheetEntry(element.get("name", ""), rel.part if rel else "", rel.kind if rel else "",
                                     rel_id or "", element))
        return cls(part, root, rels_root, sheets, rels)


def sheet_rel_id(element: etree._Element) -> str | None:
    """The relationship id of a `<sheet>`: its `id` attribute in a relationships namespace, whatever the prefix."""
    return next((value for name, value in element.attrib.items()
                 if name.startswith("{") and local(name) == "id" and namespace(name) in (RELS_NS, STRICT_RELS_NS)),
                None) or next((value for name, value in element.attrib.items()
                               if name.startswith("{") and local(name) == "id"), None)


def sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its part, in tab order; `PackageError` when the list of sheets cannot be read."""
    return {sheet.name: sheet.part for sheet in Workbook.read(archive).sheets}


# --- shared strings --------------------------------------------------------------------------------------


def string_item_text(item: etree._Element) -> str:
    """The text of an `<si>` or `<is>`: its `<t>` and rich-text runs, without phonetic guides."""
    texts = []
    for element in item.iter(etree.Element):
        if local(element.tag) == "t" and local(element.getparent().tag) != "rPh" and element.text:
            texts.append(element.text)
    return "".join(texts)


@dataclass
class SharedStrings:
    """The texts of the shared strings asked for, and the indexes of the empty ones (for "is it blank")."""

    texts: dict[int, str]
    empties: frozenset[int]
    count: int

    @classmethod
    def read(cls, archive: zipfile.ZipFile, part: str | None, wanted: Collection[int] = ()) -> SharedStrings:
        """One streamed pass over the table, keeping only the wanted texts (memory stays flat)."""
        texts: dict[int, str] = {}
        empties: set[int] = set()
        index = 0
        if part is not None and part in archive.NameToInfo:
            with archive.open(part) as stream:
                for item in _items(stream, "si"):
                    text = string_item_text(item)
                    if not text:
                        empties.add(index)
                    if index in wanted:
                        texts[index] = text
                    index += 1
        return cls(texts, frozenset(empties), index)


def _items(stream: IO[bytes], name: str) -> Iterator[etree._Element]:
    """The elements of that local name as each ends, cleared behind the reader."""
    for _, element in iterparse(stream, ("end",), tag=f"{{*}}{name}"):
        yield element
        element.clear(keep_tail=False)
        parent = element.getparent()
        if parent is not None and len(parent) > 512:
            del parent[:parent.index(element)]


# --- small edits of a part, for the writers -------------------------------------------------------------


def append_child(xml: bytes, child: etree._Element, *, unless: str | None = None) -> bytes:
    """`xml` (a whole part) with `child` appended as the root's last child, i.e. inserted before the
    root's closing tag; unchanged when an existing child has the attribute value `unless` (say a
    Target or PartName) so a declaration is never made twice. The namespace declarations stay where
    the part had them."""
    root = parse_xml(xml)
    if unless is not None and any(unless in element.attrib.values() for element in root):
        return xml
    root.append(child)
    return serialize(root)


def relationship_element(rel_id: str, kind_type: str, target: str) -> etree._Element:
    element = etree.Element(f"{{{PACKAGE_RELS_NS}}}Relationship")
    element.set("Id", rel_id)
    element.set("Type", kind_type)
    element.set("Target", target)
    return element


def override_element(part: str, content_type: str) -> etree._Element:
    element = etree.Element(f"{{{CONTENT_TYPES_NS}}}Override")
    element.set("PartName", "/" + part)
    element.set("ContentType", content_type)
    return element


def declare_part(content_types: bytes, workbook_rels: bytes, workbook: str, part: str, rel_type: str,
                 content_type: str, rel_id: str) -> tuple[bytes, bytes]:
    """Add a part to the package manifest and to the workbook's relationships (each only if not there yet):
    what a writer that adds a part (a shared-string table, a sheet) needs."""
    types = append_child(content_types, override_element(part, content_type), unless="/" + part)
    target = relative_target(workbook, part)
    rels = append_child(workbook_rels, relationship_element(rel_id, rel_type, target), unless=target)
    return types, rels


def unused_rel_id(rels_root: etree._Element) -> str:
    """An id no relationship of the part uses yet: rId<n+1>."""
    ids = {element.get("Id", "") for element in rels_root}
    numbers = [int(i[3:]) for i in ids if i.startswith("rId") and i[3:].isdigit()]
    candidate = f"rId{max(numbers, default=0) + 1}"
    while candidate in ids:
        candidate += "x"
    return candidate
