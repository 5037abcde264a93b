"""Reading every run of a deployment through the API, each run once, while runs are being added.

`GET /api/flow_runs` pages by offset, newest first. While a schedule is on, the server's
scheduler keeps adding runs at the far end of its horizon, and each new run is the newest: made
between two page requests, it pushes the whole list down by one, so the next page starts with
the last run of the page before. Reading pages one after another and concatenating them then
shows that run twice, with one `expected_start_time` twice, which looks exactly like the
duplicate scheduled run a test is there to rule out (it failed a loaded `make test` once:
tests/faults/test_scheduling_faults.py replays it deterministically).

So `all_runs` asks for the largest page the API gives (500 runs, one statement: a consistent
snapshot), and when there is more, it pages on and keeps each run id once. Runs are only ever
added at the top of this order while it reads (the tests delete none), so a run can be read
twice but never skipped; a real duplicate, two runs with one time, has two ids and still shows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: The largest page `GET /api/flow_runs` gives.
MAX_PAGE = 500


def all_runs(
    api: Any,
    deployment_id: str,
    *,
    page_size: int = MAX_PAGE,
    between_pages: Callable[[], object] | None = None,
) -> list[dict]:
    """Every run of the deployment, each once, newest first (the API's order). `between_pages`
    is called after each full page, before the next request (tests use it to make the scheduler
    add a run at that point)."""
    runs: dict[str, dict] = {}
    offset = 0
    while True:
        page = api.list_flow_runs(deployment_id=deployment_id, limit=page_size, offset=offset)
        for run in page:
            runs.setdefault(run["id"], run)
        if len(page) < page_size:
            return list(runs.values())
        offset += page_size
        if between_pages is not None:
            between_pages()
