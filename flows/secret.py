"""Save a store's token as a Prefect Secret block: `python -m flows.secret bcmod-token-acme`.

The token is read from the terminal without echo, or from stdin when it is piped
(`secret-manager read acme | python -m flows.secret bcmod-token-acme`), so it never lands in the
shell history, the process list or this command's output. Runs name the block with
`token_secret_block`; every worker reads it from the server.
"""

from __future__ import annotations

import argparse
import getpass
import sys


def read_token() -> str:
    if sys.stdin.isatty():
        return getpass.getpass("token (not echoed): ")
    return sys.stdin.readline()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m flows.secret", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="block name: lowercase letters, digits and dashes (bcmod-token-<store>)")
    args = parser.parse_args(argv)
    from prefect.blocks.system import Secret
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        print("PREFECT_API_URL is not set: point it at your Prefect server first", file=sys.stderr)
        return 2
    token = read_token().strip()
    if not token:
        print("no token given: nothing saved", file=sys.stderr)
        return 2
    Secret(value=token).save(args.name, overwrite=True)
    print(f"saved the Secret block {args.name}; runs use it with -p token_secret_block={args.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
