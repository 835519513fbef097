"""`bcmod migrate` between two sandboxes served on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pipeline.cli.main import app
from tests.pipeline.migrate_support import ABSENT, SOURCE_TOKEN, TARGET_TOKEN, Served, served_pair

ENV = {"BCMOD_SOURCE_TOKEN": SOURCE_TOKEN, "BCMOD_TARGET_TOKEN": TARGET_TOKEN, "BIGCOMMERCE_ACCESS_TOKEN": None,
       "BIGCOMMERCE_API_URL": None, "BIGCOMMERCE_STORE_HASH": None, "COLUMNS": "300"}


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Served, Served]]:
    with served_pair(tmp_path) as pair:
        yield pair


def invoke(*args: str, env: dict[str, str | None] = ENV, stdin: str | None = None):
    result = CliRunner().invoke(app, ["migrate", *args], env=env, input=stdin)
    assert "Traceback" not in result.output
    assert SOURCE_TOKEN not in result.output and TARGET_TOKEN not in result.output
    return result


def test_migrate_is_a_dry_run_until_applied_and_then_has_nothing_left(stores, tmp_path: Path) -> None:
    source, target = stores
    stores_args = ("--from-url", source.api_url, "--to-url", target.api_url, "--workdir", str(tmp_path / "work"))
    dry = invoke(*stores_args)
    assert dry.exit_code == 0, dry.output
    assert "Products not migrated (2)" in dry.output and "Dry run: nothing was written" in dry.output
    assert all(sku in dry.output for sku in ABSENT) and "+ create modifier" in dry.output
    assert source.writes() == target.writes() == 0
    cancelled = invoke(*stores_args, "--apply", stdin="n\n")
    assert cancelled.exit_code == 4 and target.writes() == 0
    applied = invoke(*stores_args, "--apply", "--yes", "--json")
    assert applied.exit_code == 0, applied.output
    summary = json.loads(applied.output)
    assert summary["applied"]["counts"]["failed"] == 0 and summary["applied"]["writes"] == target.writes() > 0
    assert sorted(u["sku"] for u in summary["unmatched"]) == sorted(ABSENT)
    assert Path(summary["results"]).exists() and summary["images_to_upload"] > 0
    again = invoke(*stores_args, "--apply", "--yes")
    assert again.exit_code == 0 and "Nothing to apply" in again.output
    assert source.writes() == 0


def test_missing_stores_or_tokens_are_usage_errors_that_send_nothing(stores) -> None:
    source, target = stores
    no_source = invoke("--to-url", target.api_url)
    assert no_source.exit_code == 2 and "name the source store" in no_source.output
    no_token = invoke("--from-url", source.api_url, "--to-url", target.api_url, "--from-token-env", "NOT_SET_ANYWHERE")
    assert no_token.exit_code == 2 and "set the environment variable NOT_SET_ANYWHERE" in no_token.output
    no_target_token = invoke("--from-url", source.api_url, "--to-url", target.api_url,
                             env={**ENV, "BCMOD_TARGET_TOKEN": None})
    assert no_target_token.exit_code == 2 and "no token for the target store" in no_target_token.output
    same = invoke("--from-url", source.api_url, "--to-url", source.api_url)
    assert same.exit_code == 2 and "same store" in same.output
    assert source.stats()["requests"]["total"] == target.stats()["requests"]["total"] == 0
