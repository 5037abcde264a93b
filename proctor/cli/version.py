"""`proctor version`: which Proctor and which Python, for bug reports and CI logs."""

from __future__ import annotations

import typer


def version_command() -> None:
    """Print the Proctor version and the Python running it."""
    import platform
    import sys

    from .. import __version__

    typer.echo(f"proctor {__version__}")
    typer.echo(
        f"Python {platform.python_version()} ({platform.python_implementation()}) "
        f"at {sys.executable}"
    )
