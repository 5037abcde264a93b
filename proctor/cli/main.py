"""The `proctor` command: run flows, draw graphs, serve the API, deploy, and run agents.

Declared as the console script `proctor = "proctor.cli.main:main"`; also runs as
`python -m proctor.cli.main` (or `python -m proctor.cli`) where no script is installed.
Command modules import only Typer at the top, so `proctor --help` stays fast.
"""

from __future__ import annotations

import typer

from .agent import app as agent_app
from .concurrency import app as concurrency_app
from .deploy import deploy_command
from .deployments import app as deployments_app
from .dev import dev_command
from .graph import graph_command
from .run import run_command
from .runs import app as runs_app
from .server import server_app
from .version import version_command

app = typer.Typer(
    name="proctor",
    help="Run Proctor flows from Python files, draw their graphs; deploy them to a server and "
    "run them with agents.",
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
app.command("deploy")(deploy_command)
app.add_typer(deployments_app, name="deployments")
app.add_typer(agent_app, name="agent")
app.add_typer(concurrency_app, name="concurrency-limit")
app.command("dev")(dev_command)


def main() -> None:
    """Entry point of the `proctor` console script."""
    app()


if __name__ == "__main__":
    main()
