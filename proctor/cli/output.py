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


def proctor_command() -> str:
    """How to type this `proctor` so that a command printed for the user works as printed:
    `proctor` when that is the one on PATH, else this one's path (relative to the current
    folder when under it, as `.venv/bin/proctor` after `make run`)."""
    import shutil
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "proctor"
    if not script.exists():
        return f"{sys.executable} -m proctor.cli.main"
    on_path = shutil.which("proctor")
    if on_path is not None and Path(on_path).resolve() == script.resolve():
        return "proctor"
    try:
        return script.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(script)


#: `--output` of the listing commands: a table for people, JSON for scripts.
OUTPUT_FORMATS = ("table", "json")
OutputOption = typer.Option("table", "--output", "-o", help="table (for people) or json (for "
                            "scripts: every field, full values).")


def check_output(output: str) -> str:
    """`output` in lower case, or exit 2 naming the choices."""
    value = output.strip().lower()
    if value not in OUTPUT_FORMATS:
        fail(f"--output {output!r} is not a format; use one of {', '.join(OUTPUT_FORMATS)}")
    return value


def print_json(value: object) -> None:
    """`value` as indented JSON on stdout."""
    import json

    typer.echo(json.dumps(value, indent=2, sort_keys=True, default=str))


def table_console():  # -> rich.console.Console
    """A console for tables: the terminal's width on a terminal; on a pipe or a file so wide
    that no cell is ever cut (`proctor runs ls | grep NAME` finds the name whole)."""
    import sys

    from rich.console import Console

    if sys.stdout.isatty():
        return Console()
    return Console(width=100_000, no_color=True, highlight=False)
