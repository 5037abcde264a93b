"""The `proctor` command: `proctor run`, `proctor graph`, `proctor version`, `proctor server`.

Declared as the console script `proctor = "proctor.cli.main:main"`; also runs as
`python -m proctor.cli.main` (or `python -m proctor.cli`) where no script is installed.
Command modules import only Typer at the top, so `proctor --help` stays fast.
"""

from __future__ import annotations

import typer

from .graph import graph_command
from .run import run_command
from .runs import app as runs_app
from .server import server_app
from .version import version_command

app = typer.Typer(
    name="proctor",
    help="Run Proctor flows from Python files, draw their graphs.",
    no_args_is_help=True,
    add_completion=False,
    # A crash report must not print the values of local variables: they may hold secrets.
    pretty_exceptions_show_locals=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.command("run")(run_command)
app.command("graph")(graph_command)
app.command("version")(version_command)
app.add_typer(server_app, name="server")
app.add_typer(runs_app, name="runs")


def main() -> None:
    """Entry point of the `proctor` console script."""
    app()


if __name__ == "__main__":
    main()
