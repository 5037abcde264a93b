"""`proctor concurrency-limit create TAG N | ls | delete TAG`: cap task runs per tag.

A limit on a tag lets at most N task runs carrying that tag run at once, across every flow run
and agent that reports to the server: the way to protect a database or an API that a hundred
parallel runs would overwhelm.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .api import ApiUrl, api_client, call_api
from .output import OutputOption, check_output, fail, print_json, table_console

app = typer.Typer(help="Limit how many task runs with a tag run at once, server-wide.",
                  no_args_is_help=True)
Tag = Annotated[str, typer.Argument(help="The task tag, e.g. database.", show_default=False)]


@app.command("create")
def create(
    tag: Tag,
    limit: Annotated[int, typer.Argument(help="How many task runs with this tag may run at "
                                         "once (0 holds them all).", show_default=False)],
    api_url: str = ApiUrl,
) -> None:
    """Create (or change) the limit of a tag."""
    if limit < 0:
        fail(f"limit {limit} must be 0 or more")
    client = api_client(api_url)
    answer = call_api(client.create_concurrency_limit, tag, limit)
    typer.echo(f"Tag {answer['tag']!r}: at most {answer['limit']} task run(s) at once "
               f"({answer.get('active', 0)} running now).")


@app.command("ls")
def list_limits(output: str = OutputOption, api_url: str = ApiUrl) -> None:
    """List the limits, with how many slots are taken now."""
    from rich.table import Table

    output = check_output(output)
    client = api_client(api_url)
    limits = call_api(client.list_concurrency_limits)
    if output == "json":
        print_json(limits)
        return
    table = Table(title=f"{len(limits)} concurrency limit(s)")
    for column in ("Tag", "Limit", "Active"):
        table.add_column(column, overflow="fold")
    for item in limits:
        table.add_row(item["tag"], str(item["limit"]), str(item.get("active", 0)))
    table_console().print(table)


@app.command("delete")
def delete(tag: Tag, api_url: str = ApiUrl) -> None:
    """Remove the limit of a tag: its task runs are no longer held back."""
    client = api_client(api_url)
    call_api(client.delete_concurrency_limit, tag)
    typer.echo(f"Tag {tag!r} is no longer limited.")
