"""Hostile workbooks made from a real export: a stray far cell, a zip whose sizes lie, junk rows.

Each is built by rewriting the export's zip part by part (never by loading it whole in a
spreadsheet library), so building one costs seconds and little memory.
"""

from __future__ import annotations

import random
import re
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from pipeline.workbook.guard import check_sheet, sheet_limits, sheet_parts
from pipeline.workbook.layout import META_SHEET

CHOICE_VALUES = "Choice values"


def part_of(xlsx: Path, sheet: str) -> str:
    with zipfile.ZipFile(xlsx) as archive:
        return sheet_parts(archive)[sheet]


def first_row_past(xlsx: Path, sheet: str) -> int:
    """The first row of `sheet` the guard refuses: past the export's own rows plus those that may be added."""
    exported = check_sheet(xlsx, part_of(xlsx, META_SHEET), sheet_limits(META_SHEET)).last_row - 1
    return sheet_limits(sheet, exported).rows + 1


def rewrite(xlsx: Path, out: Path, changes: dict[str, Callable[[bytes], bytes]]) -> Path:
    """A copy of the workbook `xlsx` at `out` with each part named in `changes` passed through its function."""
    with zipfile.ZipFile(xlsx) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename in changes:
                data = changes[info.filename](data)
            target.writestr(info.filename, data)
    return out


def before_end_of_rows(xml: bytes, rows: bytes) -> bytes:
    """The sheet XML with `rows` added after its last row."""
    end = xml.rindex(b"</sheetData>")
    return xml[:end] + rows + xml[end:]


def with_stray_cell(xlsx: Path, out: Path, ref: str, *, sheet: str = CHOICE_VALUES) -> Path:
    """One value at `ref` (such as XFD100000), far from the data, and the dimension Excel would write."""
    row = int(re.sub(r"\D", "", ref))
    cell = f'<row r="{row}"><c r="{ref}" t="inlineStr"><is><t>stray</t></is></c></row>'.encode()

    def edit(xml: bytes) -> bytes:
        xml = re.sub(rb'<dimension ref="[^"]*"', f'<dimension ref="A1:{ref}"'.encode(), xml, count=1)
        return before_end_of_rows(xml, cell)
    return rewrite(xlsx, out, {part_of(xlsx, sheet): edit})


def with_junk_rows(xlsx: Path, out: Path, rows: int, *, sheet: str = CHOICE_VALUES, seed: int = 13) -> Path:
    """`rows` rows of junk after the data: random product ids (each one the store would be asked
    about), random labels, a type no sheet takes."""
    rng = random.Random(seed)

    def edit(xml: bytes) -> bytes:
        last = int(re.findall(rb'<row r="(\d+)"', xml)[-1])
        junk = [f'<row r="{n}"><c r="B{n}"><v>{rng.randrange(10**6, 10**7)}</v></c>'
                f'<c r="E{n}" t="inlineStr"><is><t>junk{rng.random()}</t></is></c>'
                f'<c r="H{n}" t="inlineStr"><is><t>{rng.random()}</t></is></c></row>'
                for n in range(last + 1, last + 1 + rows)]
        return before_end_of_rows(xml, "".join(junk).encode())
    return rewrite(xlsx, out, {part_of(xlsx, sheet): edit})


def with_false_sizes(xlsx: Path, out: Path, *, inflated_mb: int = 2048, sheet: str = CHOICE_VALUES) -> Path:
    """The sheet's part declares its true size and CRC, but its deflate stream unpacks to
    `inflated_mb` MB: the sheet with that many spaces before its rows (a few MB packed)."""
    part = part_of(xlsx, sheet)
    with zipfile.ZipFile(xlsx) as source:
        xml = source.read(part)
        declared = source.getinfo(part)
    start = xml.index(b"<sheetData>") + len(b"<sheetData>")
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = compressor.compress(xml[:start]) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = 16 * 2**20
    # after a full flush the compressor forgets what came before, so one block's output repeats
    spaces = compressor.compress(b" " * block) + compressor.flush(zlib.Z_FULL_FLUSH)
    stream = head + spaces * (inflated_mb * 2**20 // block) + compressor.compress(xml[start:]) + compressor.flush()
    with zipfile.ZipFile(xlsx) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for info in source.infolist():
            if info.filename != part:
                target.writestr(info.filename, source.read(info))
        target.writestr(zipfile.ZipInfo(part, date_time=declared.date_time), stream, zipfile.ZIP_STORED)
    _patch_member(out, part, method=zipfile.ZIP_DEFLATED, file_size=declared.file_size, crc=declared.CRC)
    return out


def _patch_member(path: Path, name: str, *, method: int, file_size: int, crc: int) -> None:
    """Overwrite a stored member's method, CRC and uncompressed size in its local and central headers."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(name)
        local = info.header_offset
    data = bytearray(path.read_bytes())
    assert data[local:local + 4] == b"PK\x03\x04"
    struct.pack_into("<H", data, local + 8, method)
    struct.pack_into("<I", data, local + 14, crc)
    struct.pack_into("<I", data, local + 22, file_size)
    central = data.find(b"PK\x01\x02")
    encoded = name.encode()
    while central >= 0:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46:central + 46 + name_length]) == encoded:
            struct.pack_into("<H", data, central + 10, method)
            struct.pack_into("<I", data, central + 16, crc)
            struct.pack_into("<I", data, central + 24, file_size)
            break
        central = data.find(b"PK\x01\x02", central + 4)
    else:
        raise AssertionError(f"no central directory entry for {name}")
    path.write_bytes(bytes(data))
