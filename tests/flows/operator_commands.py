"""Every command the README's "Prefect flows" section and docs/scale-out.md give an operator,
exactly as written there (with the documents' example store `abc123`, block `bcmod-token-acme`).

tests/flows/test_operator_day.py runs each of them against a real `prefect server start`, adding
only what points a run at the test's sandbox store and temporary folders (its `store` with `api_url`,
`-p out=...`, `--watch-interval 1`); tests/flows/test_docs_commands.py checks that the documents give
no command outside this table, and that the Makefile's Prefect targets run these same commands.
"""

from __future__ import annotations

STORE_HASH = "abc123"
SECRET_BLOCK = "bcmod-token-acme"
POOL = "bcmod-process"
STORE = f'store={{"store_hash": "{STORE_HASH}", "token_secret_block": "{SECRET_BLOCK}"}}'

COMMANDS: dict[str, str] = {
    # make prefect-server / prefect-deploy / prefect-worker run these (test_docs_commands checks it)
    "server": "prefect server start --host 127.0.0.1 --port 4200",
    "pool": f"prefect work-pool create {POOL} --type process --overwrite",
    "deploy": "prefect --no-prompt deploy --all",
    "worker": f"prefect worker start --pool {POOL}",
    "worker_limit": f"prefect worker start --pool {POOL} --limit 4",
    # registering from Python, one deployment again, serving from a shell
    "deploy_py": "python -m flows.deploy --stores stores.json",
    "deploy_agency": "prefect --no-prompt deploy -n agency-nightly",
    "serve": "python -m flows.nightly",
    # tokens
    "secret": f"python -m flows.secret {SECRET_BLOCK}",
    "blocks": "prefect block ls",
    # runs
    "run_export": (f"prefect deployment run export_modifiers/export-store -p '{STORE}' --watch"),
    "run_import": (f"prefect deployment run import_modifiers/import-store -p workbook=/mnt/exports/edited.xlsx "
                   f"-p '{STORE}' --watch"),
    "run_nightly": "prefect deployment run export_modifiers/nightly-export --watch",
    "run_agency": "prefect deployment run export_all_stores/agency-nightly --watch",
    # reading a run
    "deployments": "prefect deployment ls",
    "pools": "prefect work-pool ls",
    "scheduled": "prefect flow-run ls --state-type SCHEDULED",
    "runs": "prefect flow-run ls --limit 10",
    "logs": "prefect flow-run logs <flow-run-id>",
    "artifacts": "prefect artifact ls",
    "artifact": f"prefect artifact inspect bcmod-export-{STORE_HASH}",
    "link": f"prefect artifact inspect bcmod-export-file-{STORE_HASH}",
    # store slots and incremental windows
    "slots": "prefect gcl ls",
    "slot": f"prefect gcl inspect store:{STORE_HASH}",
    "gcl_create": f"prefect gcl create store:{STORE_HASH} --limit 1",
    "variables": "prefect variable ls",
    "last_export": f"prefect variable get bcmod_last_export_{STORE_HASH}",
    "forget_window": f"prefect variable unset bcmod_last_export_{STORE_HASH}",
}
