"""Apply tests run on asyncio, the loop the project uses."""

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
