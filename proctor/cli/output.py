"""How commands report a mistake of the person typing: `Error: ...` on stderr and exit code 2.

Exit code 2 is what Click and Typer use for bad usage, so scripts can tell "you asked for
something wrong" (2) apart from "the flow ran and failed" (1).
"""

from __future__ import annotations

from typing import NoReturn

import typer

#: Exit code of a flow run that failed.
EXIT_FAILED = 1
#: Exit code of bad usage: a wrong reference, parameter, executor or option.
EXIT_USAGE = 2


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    """Print `Error: message` to stderr and stop the command with `code`.

    Plain `typer.echo` rather than rich, so messages holding brackets (`x=[1,2]`) print verbatim.
    """
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)
