"""What the API's own schema says each path takes, used to hold requests to it.

Two answers FastAPI does not give by itself, both read from the OpenAPI schema so they cannot
drift from it:

- **Unknown or repeated query parameters are refused** (422, naming them and what the route
  takes): `?limt=5` is a typo the client wants to hear about, not a silently ignored filter, and
  `?name=a&name=b` on a one-valued parameter would otherwise keep one of the two unsaid.
- **A 405 lists every method the path has** (`Allow`), not only those of the first route that
  matched; and a path the API names literally (`/api/flow_runs/heartbeat`, POST) asked with a
  method only the templated path has (`GET /api/flow_runs/{flow_run_id}`) is a 405, not a
  "heartbeat is not an id" 422.

The table is built on first use, from `app.openapi()`, once per process for the apps
`create_app` makes (they all have the same routes).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from fastapi import HTTPException, Request, status
from fastapi.exceptions import RequestValidationError

_PARAM = re.compile(r"\{[^}/]+\}")


@dataclass
class PathEntry:
    """One path of the schema: the methods it has and the query parameters of each."""

    template: str
    pattern: re.Pattern[str]
    literal_segments: int
    #: method -> {parameter name: takes several values}
    queries: dict[str, dict[str, bool]] = field(default_factory=dict)


class RouteTable:
    """The schema's paths, matched against request paths (the most literal path first)."""

    def __init__(self, schema: dict) -> None:
        entries = []
        for template, operations in schema.get("paths", {}).items():
            regex = "".join(
                "[^/]+" if _PARAM.fullmatch(part) else re.escape(part)
                for part in re.split(r"(\{[^}/]+\})", template) if part
            )
            segments = [s for s in template.split("/") if s]
            entry = PathEntry(template, re.compile(f"^{regex}$"),
                              sum(1 for s in segments if not _PARAM.search(s)))
            for method, operation in operations.items():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                entry.queries[method.upper()] = {
                    param["name"]: _is_array(param.get("schema", {}))
                    for param in operation.get("parameters", ())
                    if param.get("in") == "query"
                }
            entries.append(entry)
        self._entries = sorted(entries, key=lambda e: -e.literal_segments)

    def matching(self, path: str) -> list[PathEntry]:
        """The schema paths `path` matches, the most literal first."""
        return [entry for entry in self._entries if entry.pattern.match(path)]

    def allowed_methods(self, path: str) -> list[str]:
        """The methods of the schema path that names `path` the most literally (of each such
        path when several do), sorted; routing holds to the same path (see `check`)."""
        entries = self.matching(path)
        if not entries:
            return []
        best = entries[0].literal_segments
        return sorted({m for entry in entries if entry.literal_segments == best
                       for m in entry.queries})

    def check(self, method: str, path: str, query: list[tuple[str, str]]) -> None:
        """Raise the 405 or 422 this request deserves (see the module docstring), or nothing."""
        entries = self.matching(path)
        if not entries:
            return
        if method not in self.allowed_methods(path):
            # The most literal path does not take this method: another one may (405 then).
            allowed = self.allowed_methods(path)
            raise HTTPException(
                status.HTTP_405_METHOD_NOT_ALLOWED,
                detail=f"{path} does not take {method}; it takes {', '.join(allowed)}",
                headers={"Allow": ", ".join(allowed)},
            )
        takes = next(e.queries[method] for e in entries if method in e.queries)
        counts: dict[str, int] = {}
        for name, _value in query:
            counts[name] = counts.get(name, 0) + 1
        known = ", ".join(sorted(takes)) or "no query parameters"
        errors = []
        for name, count in counts.items():
            if name not in takes:
                errors.append({"loc": ("query", name), "type": "value_error",
                               "msg": f"unknown query parameter {name[:40]!r}; this route takes "
                               f"{known}"})
            elif count > 1 and not takes[name]:
                errors.append({"loc": ("query", name), "type": "value_error",
                               "msg": f"{name} is given {count} times; give it once"})
        if errors:
            raise RequestValidationError(errors)


def _is_array(schema: dict) -> bool:
    if schema.get("type") == "array":
        return True
    return any(_is_array(option) for option in schema.get("anyOf", ()))


#: Tables by the key `create_app` gives its apps: every app it makes has the same routes, and
#: making the schema costs ~0.15 s, so a process (a test run makes hundreds of apps) builds the
#: table once.
_TABLES: dict[str, RouteTable] = {}


def route_table(request: Request) -> RouteTable:
    """The app's table, built on first use (the schema is complete by then)."""
    state = request.app.state
    table = getattr(state, "route_table", None)
    if table is None:
        key = getattr(state, "route_table_key", None)
        table = _TABLES.get(key) if key is not None else None
        if table is None:
            table = RouteTable(request.app.openapi())
            if key is not None:
                _TABLES[key] = table
        state.route_table = table
    return table


def hold_to_schema(request: Request) -> None:
    """A router dependency: the request's method and query must be ones the schema lists."""
    route_table(request).check(request.method, request.url.path,
                               request.query_params.multi_items())
