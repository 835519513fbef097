"""`image_url` cells: an address of another scheme than http(s) is an issue on its cell, never a path;
local files are judged by the same check as the apply's (a real GIF, JPEG or PNG)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.validate.reading import image_issues
from tests.pipeline.image_server import GIF, JPEG, PNG

FILE = "edit.xlsx"
SHEET = "Choice values"


def issues_for(folder: Path, *cells: str | None, column: str = "image_url"):
    sheet = pd.DataFrame({column: pd.Series(cells, dtype="string", index=range(2, 2 + len(cells)))})
    return image_issues(sheet, SHEET, FILE, folder)


@pytest.mark.parametrize("text", [
    "file:///etc/passwd", "file:/etc/passwd", "FILE:images/red.png", "ftp://images.example/red.png",
    "javascript:alert(1)", "data:image/png;base64,iVBORw0KGgo=", "sftp://host/red.png", "mailto:me@example.com",
])
def test_other_schemes_are_issues_on_their_cell(tmp_path: Path, text: str) -> None:
    (tmp_path / "file:").mkdir()  # even where a folder of that name exists, it is not read as a path
    [issue] = issues_for(tmp_path, None, text)
    assert (issue.file, issue.sheet, issue.row, issue.column, issue.value) == (FILE, SHEET, 3, "image_url", text)
    scheme = text.split(":", 1)[0].lower()
    assert issue.message.startswith(f"{scheme}: addresses are not used for images") and "https://" in issue.message


@pytest.mark.parametrize("text", ["https:/images.example/red.png", "http:red.png"])
def test_a_broken_web_address_is_said_to_be_one(tmp_path: Path, text: str) -> None:
    [issue] = issues_for(tmp_path, text)
    assert "not a complete web address" in issue.message


def test_web_addresses_and_real_images_in_the_folder_pass(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    for name, data in (("red.png", PNG), ("pic.gif", GIF), ("pic.jpg", JPEG)):
        (tmp_path / "images" / name).write_bytes(data)
    assert issues_for(tmp_path, "https://cdn.example/red.png", "HTTP://cdn.example/a.png", "images/red.png",
                      "images/pic.gif", r"images\pic.jpg") == []


@pytest.mark.parametrize("name, data, words", [
    ("pic.webp", b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 32, "not an image BigCommerce takes: use a GIF, JPEG"),
    ("page.png", b"<html>hello</html>", "is not an image"),
    ("cut.png", PNG[:-12], "the image file is an incomplete PNG image"),
    ("empty.png", b"", "the image file is empty"),
])
def test_files_are_judged_like_the_apply_judges_them(tmp_path: Path, name: str, data: bytes, words: str) -> None:
    (tmp_path / name).write_bytes(data)
    [issue] = issues_for(tmp_path, name)
    assert (issue.row, issue.column) == (2, "image_url") and words in issue.message


def test_a_windows_drive_is_still_a_path_on_the_computer(tmp_path: Path) -> None:
    [issue] = issues_for(tmp_path, r"C:\Users\sam\red.png")
    assert "path on your computer" in issue.message
