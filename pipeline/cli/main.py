"""The `bcmod` command line."""
import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)


@app.command()
def demo() -> None:
    """Run the main job against the embedded sandbox store."""
    typer.echo("not yet")
