"""`bcmod sandbox serve`: run the sandbox store over HTTP for demos, tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help="The local BigCommerce-compatible sandbox store.")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on (keep it on loopback)."),
    port: int = typer.Option(8000, help="TCP port; 0 picks a free one."),
    data: Path | None = typer.Option(
        None, help="Folder for the SQLite catalog and uploaded images (default: the embedded store's, "
                   "$BCMOD_SANDBOX_DIR or bcmod/sandbox in your data folder).", show_default=False),
    products: int = typer.Option(0, help="Seed a generated catalog of N products when the folder is empty."),
    seed: int = typer.Option(0, help="Seed for the catalog generator and the fault injector."),
    token: str = typer.Option("sandbox-token", help="The X-Auth-Token the store accepts.", envvar="SANDBOX_TOKEN",
                              show_default=False),
    store_hash: str = typer.Option("sandbox", help="Store hash in /stores/{hash}/v3."),
    quota: int = typer.Option(150, help="Requests per window (0 = unlimited)."),
    window_ms: int = typer.Option(30_000, help="Rate-limit window in milliseconds."),
    latency_ms: float = typer.Option(0.0, help="Latency added to every API response."),
    fault_5xx_rate: float = typer.Option(0.0, help="Share of requests answered 500/502/503/504 before processing."),
    fault_429_rate: float = typer.Option(0.0, help="Share of requests answered 429 without rate-limit headers."),
    fault_drop_rate: float = typer.Option(0.0, help="Share of requests whose connection drops after processing."),
    crash_after_writes: int = typer.Option(0, help="Drop every request after N writes (0 = never)."),
    strict: bool | None = typer.Option(
        None, "--strict/--no-strict", show_default=False,
        help="Refuse (422) every request that breaks BigCommerce's OpenAPI specs, found in $BIGCOMMERCE_OPENAPI_DIR "
             "or ../shared/bigcommerce-openapi; without them the sandbox keeps its own rules. "
             "Default: $BCMOD_SANDBOX_STRICT, on when unset."),
    literal_include_fields: bool = typer.Option(
        False, "--literal-include-fields",
        help="Imitate a store that applies include_fields literally: included sub-resources such as modifiers "
             "come back only when include_fields names them."),
    image_origin: str | None = typer.Option(
        None, "--image-origin", show_default=False,
        help="Render image URLs on this origin (e.g. http://localhost:8765) whatever address a request came in on, "
             "so they stay the same across ports and restarts. Default: the address of each request."),
) -> None:
    """Serve the sandbox store until interrupted."""
    from pipeline.apply.lock import LockHeld, store_lock
    from pipeline.connection import default_sandbox_dir
    from pipeline.sandbox.config import SandboxConfig
    from pipeline.sandbox.server import serve_forever

    data = (data or default_sandbox_dir()).expanduser().resolve()
    config = SandboxConfig(
        data_dir=data, image_origin=image_origin, store_hash=store_hash, token=token, quota=quota or None, window_ms=window_ms,
        latency_ms=latency_ms, fault_5xx_rate=fault_5xx_rate, fault_429_rate=fault_429_rate,
        fault_drop_rate=fault_drop_rate, seed=seed, products=products,
        crash_after_writes=crash_after_writes or None, literal_include_fields=literal_include_fields,
        **({} if strict is None else {"strict": strict}),
    )
    mode = "strict" if config.strict else "not strict"
    data.mkdir(parents=True, exist_ok=True)
    try:  # one process serves a store folder at a time, as the commands' embedded store does
        with store_lock(data, "bcmod sandbox serve"):
            typer.echo(f"sandbox store {store_hash!r} on http://{host}:{port}/stores/{store_hash}/v3 "
                       f"(data in {data}, {mode})")
            serve_forever(config, host=host, port=port)
    except LockHeld as exc:
        typer.echo(f"bcmod sandbox serve: {exc}", err=True)
        raise typer.Exit(5) from None
