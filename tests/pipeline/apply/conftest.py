"""Apply tests run on asyncio, the loop the project uses; `folder` is a workbook folder with an image."""

from pathlib import Path

import pytest

from tests.pipeline.apply.support import PNG


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The edited workbook's folder, holding `images/swatch.png` (and `outside.png` next to it)."""
    folder = tmp_path / "workbook"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "swatch.png").write_bytes(PNG)
    (tmp_path / "outside.png").write_bytes(PNG)
    return folder
