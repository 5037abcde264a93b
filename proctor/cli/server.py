"""`proctor server`: run the API server, and manage its database.

    proctor server start [--host 127.0.0.1] [--port 4200] [--no-services]
    proctor server db upgrade
    proctor server db reset [--yes]

The server also runs its scheduler (makes the runs of scheduled deployments) and its reaper
(marks overdue runs LATE, crashes the runs of agents that stopped heartbeating), every
`PROCTOR_SCHEDULER_INTERVAL` seconds; `--no-services` leaves them to another server process on
the same database.

The database is `PROCTOR_DATABASE_URL` (default: an SQLite file in `PROCTOR_HOME`). The server
binds to 127.0.0.1 unless told otherwise: exposing it is a decision, made with `--host` (and
`PROCTOR_API_KEY`). FastAPI, SQLAlchemy and uvicorn are imported inside the commands, so
`proctor --help` does not pay for them. The server answers only the Host names it knows (the
`--host` address, the loopback names, or `PROCTOR_ALLOWED_HOSTS`): reached by another name,
for example through --host 0.0.0.0 and the machine's name, list that name there.

Two hidden options serve `proctor dev`, which starts the server as its child: `--fd N` serves on
a listening socket the parent bound already (so the server that answers on the port is surely
the one it started; `proctor.cli.ports`), and `--parent-pid P` ends the server when its parent
ends, however it ends (`proctor.cli.lifeline`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

from .output import EXIT_FAILED

if TYPE_CHECKING:
    from ..server.db.engine import Database

server_app = typer.Typer(
    name="server",
    help="Run the Proctor API server and manage its database.",
    no_args_is_help=True,
)
db_app = typer.Typer(name="db", help="Create, upgrade or reset the server's database.")
server_app.add_typer(db_app, name="db")

DatabaseOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        metavar="URL",
        help="sqlite:///path.db or postgresql://user@host/db. Default: $PROCTOR_DATABASE_URL, "
        "else sqlite:///$PROCTOR_HOME/proctor.db.",
        show_default=False,
    ),
]


def _describe(url: str) -> str:
    """The URL with its password hidden, for messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return repr(url)


@contextmanager
def _database(url: str | None) -> Iterator[Database]:
    """The database named by `url` (default: the settings'), disposed at the end; a database
    that cannot be opened or migrated ends the command with a message and exit code 1."""
    from sqlalchemy.exc import SQLAlchemyError

    from .. import settings
    from ..server.db.engine import Database

    url = url or settings.database_url()
    try:
        database = Database(url)
        try:
            yield database
        finally:
            database.dispose()
    except (SQLAlchemyError, OSError, ValueError) as exc:
        typer.echo(f"Error: database {_describe(url)}: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from exc


@server_app.command("start")
def start_command(
    host: Annotated[
        str, typer.Option(help="Address to listen on; 0.0.0.0 exposes the server to the network.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 4200,
    database_url: DatabaseOption = None,
    log_level: Annotated[
        str, typer.Option(help="uvicorn's log level: critical, error, warning, info, debug.")
    ] = "info",
    services: Annotated[
        bool,
        typer.Option(
            "--services/--no-services",
            help="Run the scheduler and the reaper in this process (safe in several at once).",
        ),
    ] = True,
    fd: Annotated[int | None, typer.Option(
        hidden=True, help="Serve on this listening socket, inherited from the parent (used by "
        "`proctor dev`, which takes the port itself); --host and --port are then ignored.")] = None,
    parent_pid: Annotated[int | None, typer.Option(
        hidden=True, help="End when this process, our parent, ends (used by `proctor dev`).")
    ] = None,
) -> None:
    """Start the API server (migrating the database first) and serve until interrupted."""
    if parent_pid is not None:
        from .lifeline import ParentGone, die_with_parent

        try:
            die_with_parent(parent_pid)
        except ParentGone as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(EXIT_FAILED) from exc
    import uvicorn

    from ..server.api.app import create_app
    from ..server.db import migrate

    with _database(database_url) as database:
        migrate.upgrade(database)
        try:
            # The address it listens on is a Host name it answers (besides the loopback names,
            # or PROCTOR_ALLOWED_HOSTS); with --fd the parent chose a loopback address.
            app = create_app(database.url, services=services,
                             hosts=(host,) if fd is None else ())
        except ValueError as exc:  # a PROCTOR_* setting that cannot be read
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(EXIT_FAILED) from exc
    if fd is not None:
        _serve_on_inherited_socket(app, fd, log_level.lower(), database.url)
        return
    typer.echo(f"Proctor server: {_address(host, port)} (web UI at /, API docs at /docs)")
    typer.echo(f"Database: {_describe(database.url)}")
    uvicorn.run(app, host=host, port=port, log_level=log_level.lower())


def _address(host: str, port: int) -> str:
    shown_host = f"[{host}]" if ":" in host else host
    return f"http://{shown_host}:{port}"


def _serve_on_inherited_socket(app: object, fd: int, log_level: str, database_url: str) -> None:
    """Serve on the listening socket `fd` that the parent bound (see `proctor.cli.ports`)."""
    import socket

    import uvicorn

    try:
        sock = socket.socket(fileno=fd)  # family and type read from the descriptor
    except OSError as exc:
        typer.echo(f"Error: --fd {fd} is not an open socket: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from exc
    host, port = sock.getsockname()[:2]
    typer.echo(f"Proctor server: {_address(host, port)} (web UI at /, API docs at /docs)")
    typer.echo(f"Database: {_describe(database_url)}")
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level))
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn raises the signal again once it has shut down
        pass
    if not server.started:
        raise typer.Exit(EXIT_FAILED)


@db_app.command("upgrade")
def upgrade_command(database_url: DatabaseOption = None) -> None:
    """Create the tables, or bring them up to this version of Proctor."""
    from ..server.db import migrate

    with _database(database_url) as database:
        before = migrate.current_revision(database)
        migrate.upgrade(database)
        after = migrate.current_revision(database)
    where = _describe(database.url)
    if before == after:
        typer.echo(f"{where} is up to date (revision {after}).")
    else:
        typer.echo(f"{where} upgraded from revision {before or 'none'} to {after}.")


@db_app.command("reset")
def reset_command(
    database_url: DatabaseOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Drop every Proctor table and create them again, empty: all recorded runs are lost."""
    from ..server.db import migrate

    with _database(database_url) as database:
        where = _describe(database.url)
        if not yes:
            typer.confirm(f"Delete every flow, run, state and log in {where}?", abort=True)
        migrate.reset(database)
    typer.echo(f"{where} was reset: all tables are empty.")
