"""The web UI's pages, served by the API server at `/`: HTML rendered from Jinja2 templates.

Pages read the database through `ui.data` in the server's own process; actions (cancel, pause,
resume, run now) call the JSON API from the page's script, so they are validated exactly as any
other client's request. A page asked with `?fragment=1` returns only its content block: the
script uses that to refresh live panels without a reload.

Access: without `PROCTOR_API_KEY` every page is open (the server listens on 127.0.0.1 by
default). With a key, a page asks for it once (`/login`), which opens a session of its own
(`session`: random, signed, expiring after `PROCTOR_UI_SESSION_TTL`, ended by `/logout`) kept in
an HttpOnly, SameSite=Strict cookie; the API accepts that cookie as well as the bearer header,
so the page's own requests need no key in script. Every page carries the session's CSRF token
(`<meta name="proctor-csrf">`, and a hidden field in the logout form), which the script sends
with each change it asks of the API.
"""

from __future__ import annotations

import datetime as dt
import hmac
import json
import math
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from ...core.states import DEFAULT_NAMES, StateType
from ..db import queries as q
from . import charts, data
from .graph import NODE_HEIGHT, NODE_WIDTH, edge_path
from .session import (
    COOKIE,
    CSRF_FIELD,
    csrf_token,
    current_session,
    has_session,
    store_of,
)

HERE = Path(__file__).parent
#: Log levels offered by the log filter.
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
#: Finished run states: a run page in one of them stops refreshing itself.
FINISHED = {"SUCCESS", "CACHED", "FAILED", "CRASHED", "TIMED_OUT", "CANCELLED", "SKIPPED",
            "TRIGGER_FAILED"}

router = APIRouter(include_in_schema=False)

#: Every page: never cached (it shows live data), and a policy under which only the UI's own
#: script file runs: even if some text escaped the templates' escaping, it could not execute.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
}


class UIError(Exception):
    """Bad input to a page (a filter, a window): shown on the page with what to change."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


# -- rendering ------------------------------------------------------------------------------------
def _when(value: float | None, with_seconds: bool = True) -> str:
    if value is None:
        return "\u2014"
    moment = dt.datetime.fromtimestamp(value, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_seconds else "%Y-%m-%d %H:%M") + " UTC"


def _ago(value: float | None, now: float | None = None) -> str:
    if value is None:
        return "never"
    delta = (now or time.time()) - value
    future = delta < 0
    delta = abs(delta)
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if delta >= size:
            text = f"{delta / size:.0f} {unit}"
            break
    else:
        text = f"{delta:.0f} s"
    return f"in {text}" if future else f"{text} ago"


def _duration(start: float | None, end: float | None) -> str:
    if start is None:
        return "\u2014"
    seconds = (end if end is not None else time.time()) - start
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _state_class(state_type: str | None) -> str:
    return f"s-{(state_type or 'PENDING').lower().replace('_', '-')}"


def _state_name(state_type: str | None) -> str:
    try:
        return DEFAULT_NAMES[StateType(state_type)] if state_type else "Pending"
    except ValueError:
        return str(state_type)


def _json_value(value: Any) -> str:
    """A value as one line of JSON, returned as plain text so that autoescaping applies: in an
    attribute (`value="{{ v|json_value }}"`) its quotes become `&#34;` and cannot end the
    attribute. (Jinja's `tojson` is marked safe and leaves `"` as it is: it is meant for
    `<script>` blocks and single-quoted attributes only.)"""
    return json.dumps(value, default=str, ensure_ascii=False)


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(HERE / "templates")),
        autoescape=select_autoescape(["html", "svg"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=_when, ago=_ago, state_class=_state_class, state_name=_state_name,
                       tojson_text=lambda v: json.dumps(v, indent=2, sort_keys=True,
                                                        default=str),
                       json_value=_json_value)
    env.globals.update(duration=_duration, edge_path=edge_path, node_width=NODE_WIDTH,
                       node_height=NODE_HEIGHT, levels=LEVELS, urlencode=urlencode,
                       windows=list(charts.WINDOWS), state_types=[s.value for s in StateType])
    return env


_env = _environment()


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    fragment = request.query_params.get("fragment") == "1"
    session_id = current_session(request)
    body = _env.get_template(template).render(
        request=request, fragment=fragment, path=request.url.path,
        protected=session_id is not None, csrf_token=csrf_token(request),
        csrf_field=CSRF_FIELD, **values,
    )
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


# -- access ---------------------------------------------------------------------------------------
def _login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def _safe_next(value: str | None) -> str:
    """Only a path on this server: never an open redirect."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


def login_form(request: Request, status: int = 200) -> HTMLResponse:
    """The login form, coming back to this page once logged in (for pages that answer 401
    themselves instead of redirecting, such as /docs)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return render(request, "login.html", status=status, next=_safe_next(target), error=None)


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:  # noqa: A002
    if request.app.state.api_key is None:
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    # A urlencoded body parsed here: two fields do not need a multipart parser dependency.
    form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
    key = (form.get("key") or [""])[0]
    target = _safe_next((form.get("next") or ["/"])[0])
    expected = request.app.state.api_key
    store = store_of(request)
    if expected is None or store is None:
        return RedirectResponse(target, status_code=303)
    await run_in_threadpool(current_session, request)  # the page's header reads it
    if not hmac.compare_digest(key.encode(), expected.encode()):
        return render(request, "login.html", status=401, next=target,
                      error="That is not this server's API key (PROCTOR_API_KEY).")
    old = request.cookies.get(COOKIE)
    if old:  # a new login replaces the browser's previous session
        await run_in_threadpool(store.close, old)
    cookie = await run_in_threadpool(store.open)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, cookie, max_age=math.ceil(store.ttl), httponly=True,
                        samesite="strict", secure=request.url.scheme == "https", path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End the session for good (every server process on the database refuses it from now
    on), then forget the cookie. The form must carry the session's CSRF token, so another
    page cannot log the user out."""
    store = store_of(request)
    cookie = request.cookies.get(COOKIE, "")
    session_id = await run_in_threadpool(current_session, request)
    if store is not None and session_id is not None:
        form = parse_qs((await request.body()).decode("utf-8", "replace"), max_num_fields=10)
        if not store.csrf_matches(session_id, (form.get(CSRF_FIELD) or [""])[0]):
            return JSONResponse({"detail": (
                f"logout refused: the form lacks this session's CSRF token ({CSRF_FIELD}); "
                "use the Log out button of a page of this server")}, status_code=403)
        await run_in_threadpool(store.close, cookie)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def _guard(request: Request) -> Response | None:
    return None if has_session(request) else _login_redirect(request)


# -- input parsing --------------------------------------------------------------------------------
def _time_param(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return None
    try:
        moment = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise UIError(f"{name}={raw!r} is not a date and time; use the picker or write "
                      f"2026-11-25T09:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.timestamp()


def _int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        raise UIError(f"{name}={raw!r}: expected a whole number from {low} to {high}")
    return int(raw)


def _state_param(request: Request) -> str | None:
    raw = request.query_params.get("state", "").strip().upper()
    if not raw:
        return None
    if raw not in {s.value for s in StateType}:
        raise UIError(f"state={raw!r} is not a state; pick one of the list")
    return raw


# -- pages ----------------------------------------------------------------------------------------
def _error_page(request: Request, error: UIError) -> HTMLResponse:
    return render(request, "error.html", status=error.status, message=str(error))


@router.get("/", response_class=HTMLResponse)
def dashboard_page(request: Request) -> Response:
    if (redirect := _guard(request)) is not None:
        return redirect
    window = request.query_params.get("window", "day")
    if window not in charts.WINDOWS:
        return _error_page(request, UIError(
            f"window={window!r}: choose one of {', '.join(charts.WINDOWS)}"))
    database = request.app.state.database
    with database.read() as session:
        view = data.dashboard(session, window, time.time(), request.app.state.agent_timeout,
                              request.app.state.agent_forget_after)
    return render(request, "dashboard.html", view=view, now=time.time())


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request) -> Response:
    if (redirect := _guard(request)) is not None:
        return redirect
    try:
        state = _state_param(request)
        since, until = _time_param(request, "since"), _time_param(request, "until")
        limit = _int_param(request, "limit", 50, 1, 500)
        offset = _int_param(request, "offset", 0, 0, 10**9)
    except UIError as error:
        return _error_page(request, error)
    params = request.query_params
    flt = q.FlowRunFilter(
        flow_name=params.get("flow") or None,
        deployment_id=params.get("deployment") or None,
        states=(StateType(state),) if state else (),
        tags=data.parse_tags(params.get("tag")),
        start_after=since,
        start_before=until,
    )
    with request.app.state.database.read() as session:
        view = data.run_list(session, flt, q.Page(limit=limit, offset=offset))
    kept = {k: v for k, v in params.items() if v and k not in ("offset", "fragment")}
    return render(request, "runs.html", view=view, filters=params, limit=limit, offset=offset,
                  kept=kept, now=time.time())


@router.get("/runs/{flow_run_id}", response_class=HTMLResponse)
def run_page(request: Request, flow_run_id: str) -> Response:
    if (redirect := _guard(request)) is not None:
        return redirect
    with request.app.state.database.read() as session:
        try:
            view = data.run_detail(session, flow_run_id, time.time())
        except q.NotFound:
            return _error_page(request, UIError(f"no flow run has the id {flow_run_id!r}", 404))
        # The first lines stored, shown in time order; the live tail goes on from the cursor.
        first = data.followed_logs(session, flow_run_id, min_level=None, search=None,
                                   after_seq=0)
    lines = sorted(first.lines, key=lambda line: (line.timestamp, line.seq))
    finished = view.run.state_type in FINISHED
    return render(request, "run.html", view=view, run=view.run, finished=finished, logs=lines,
                  more_logs=len(lines) >= data.LOG_PAGE, now=time.time(),
                  after_seq=first.next_after_seq, level_names={v: k for k, v in LEVELS.items()})


@router.get("/runs/{flow_run_id}/logs")
def run_logs(request: Request, flow_run_id: str) -> Response:
    """Log lines as JSON for the page's log panel (filter, search, live tail)."""
    if not has_session(request):
        return JSONResponse({"detail": "log in first"}, status_code=401)
    try:
        level = request.query_params.get("level", "").upper()
        if level and level not in LEVELS:
            raise UIError(f"level={level!r}: choose one of {', '.join(LEVELS)}")
        after_raw = request.query_params.get("after", "").strip()
        try:
            after = float(after_raw) if after_raw else None
        except ValueError:
            raise UIError(f"after={after_raw!r}: expected a timestamp in seconds") from None
        after_seq_raw = request.query_params.get("after_seq", "").strip()
        if after_seq_raw and not (after_seq_raw.isdigit() and len(after_seq_raw) <= 18):
            raise UIError(f"after_seq={after_seq_raw!r}: expected the panel's cursor (a whole "
                          "number, 0 to start)")
        after_seq = int(after_seq_raw) if after_seq_raw else None
    except UIError as error:
        return JSONResponse({"detail": str(error)}, status_code=422)
    search = request.query_params.get("search", "").strip()[:200] or None
    next_after_seq: int | None = None
    with request.app.state.database.read() as session:
        try:
            if after_seq is None:
                lines = data.logs(session, flow_run_id, min_level=LEVELS.get(level),
                                  search=search, after=after)
            else:
                followed = data.followed_logs(session, flow_run_id,
                                              min_level=LEVELS.get(level), search=search,
                                              after_seq=after_seq, limit=data.TAIL_PAGE)
                lines, next_after_seq = followed.lines, followed.next_after_seq
        except q.NotFound:
            return JSONResponse({"detail": f"no flow run has the id {flow_run_id!r}"},
                                status_code=404)
        run = q.read_flow_run(session, flow_run_id)
    return JSONResponse({
        "finished": run.state_type in FINISHED,
        "next_after_seq": next_after_seq,
        "lines": [{"id": line.id, "seq": line.seq, "timestamp": line.timestamp,
                   "time": _when(line.timestamp), "level": line.level, "logger": line.logger,
                   "message": line.message, "task_run_id": line.task_run_id}
                  for line in lines],
    }, headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})


@router.get("/flows", response_class=HTMLResponse)
def flows_page(request: Request) -> Response:
    if (redirect := _guard(request)) is not None:
        return redirect
    with request.app.state.database.read() as session:
        flows = data.deployments(session)
    return render(request, "flows.html", flows=flows, now=time.time())


@router.get("/deployments/{deployment_id}", response_class=HTMLResponse)
def deployment_page(request: Request, deployment_id: str) -> Response:
    if (redirect := _guard(request)) is not None:
        return redirect
    with request.app.state.database.read() as session:
        try:
            view = data.deployment_view(session, deployment_id)
        except q.NotFound:
            return _error_page(request, UIError(
                f"no deployment has the id {deployment_id!r}", 404))
    schema = (view.deployment.parameter_schema or {}).get("parameters") or []
    return render(request, "deployment.html", view=view, d=view.deployment, schema=schema,
                  now=time.time())


@router.get("/agents", response_class=HTMLResponse)
def agents_page(request: Request) -> Response:
    if (redirect := _guard(request)) is not None:
        return redirect
    with request.app.state.database.read() as session:
        view = data.agents_view(session, time.time(), request.app.state.agent_timeout,
                                request.app.state.agent_forget_after)
    return render(request, "agents.html", view=view, now=time.time(),
                  timeout=request.app.state.agent_timeout)
