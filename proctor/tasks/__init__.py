"""Proctor's task library: ready-made tasks Prefect 1 code imports from `prefect.tasks`.

- `proctor.tasks.shell.ShellTask`: run a shell command, its output streamed to the run's logs
- `proctor.tasks.http.HttpRequest` / `HttpPaginate` / `http_request`: HTTP with retries
- `proctor.tasks.sql.SqlQuery` / `SqlInsert`: SQL with bound parameters (`proctor[sql]`)
- `proctor.tasks.redis`: keys with expiry, publish, streams (`proctor[redis]`)
- `proctor.tasks.notify.SlackMessage` / `EmailMessage`: messages sent inside a task
- `proctor.tasks.git.GitCheckout`: a checkout of a repository at a ref
- `proctor.tasks.files`: read, write, list, copy, move, delete, CSV and JSON (`proctor[files]`)

(sql and redis are imported from their modules: their client libraries are optional extras.)
- `proctor.tasks.control_flow.FilterTask`: drop None/failed results of a map (or by a function)
- `proctor.tasks.core.Constant`: a task returning a fixed value
- `proctor.tasks.templates.JinjaTemplate` / `StringFormatter`: text from a template and the
  run's context
- `proctor.tasks.secrets.EnvVarSecret` / `Secret`: secret values, masked in logs and states

Integrations with outside services grow here too, one module per service.
"""

from .control_flow import FilterTask
from .core import Constant
from .http import HttpPaginate, HttpRequest, http_request
from .secrets import EnvVarSecret, Secret
from .shell import ShellTask
from .templates import JinjaTemplate, StringFormatter

__all__ = ["Constant", "EnvVarSecret", "FilterTask", "HttpPaginate", "HttpRequest",
           "JinjaTemplate", "Secret", "ShellTask", "StringFormatter", "http_request"]
