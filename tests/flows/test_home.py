"""The deployments' pull step finds bcmod's home on a worker without any variable set."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flows.home import bcmod_home, checkout, enter_home

REPO = Path(__file__).resolve().parents[2]


def test_the_home_is_the_checkout_unless_bcmod_home_or_the_deployment_says_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("BCMOD_HOME", raising=False)
    monkeypatch.chdir(tmp_path)  # a process worker starts each run in a temporary directory
    assert checkout() == REPO and bcmod_home() == REPO
    assert enter_home() == {"directory": str(REPO)} and Path(os.getcwd()) == REPO
    elsewhere = tmp_path / "srv-bcmod"
    elsewhere.mkdir()
    monkeypatch.setenv("BCMOD_HOME", str(elsewhere))
    assert enter_home() == {"directory": str(elsewhere)}
    pinned = tmp_path / "pinned"
    pinned.mkdir()
    assert enter_home(str(pinned)) == {"directory": str(pinned)}


def test_a_home_that_is_not_there_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("BCMOD_HOME", str(tmp_path / "missing"))
    with pytest.raises(FileNotFoundError, match=r"bcmod's home .*missing \(from BCMOD_HOME\) is not a directory"):
        bcmod_home()
