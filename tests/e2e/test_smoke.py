"""The UI's first pages in a real browser: a person opening the dashboard and the run list of a
server that has recorded one good and one failed run sees both, and the page's script runs
without an error."""

from __future__ import annotations


def open_page(page, server, path: str) -> None:
    """Go to `path` and wait until the page and its script are loaded; a server error is
    reported with the server's log, so the failure says what broke."""
    answer = page.goto(server.url + path, wait_until="load")
    assert answer is not None and answer.ok, (
        f"GET {path} answered {answer.status if answer else 'nothing'}:\n"
        f"{page.content()[:2000]}\n--- server log ---\n{server.output()[-4000:]}"
    )


def test_dashboard_and_run_list_show_recorded_runs(ui_server, record, page, console_errors):
    good = record("smoke-good")
    bad = record("smoke-bad", fail=True)
    assert (good.state_type, bad.state_type) == ("SUCCESS", "FAILED")

    open_page(page, ui_server, "/")
    assert "Proctor" in page.title()
    assert console_errors == []

    open_page(page, ui_server, "/runs")
    table = page.locator("table.runs")
    for run in (good, bad):
        assert table.get_by_role("link", name=run.name, exact=True).count() == 1, (
            f"run {run.name!r} ({run.flow_name}) is not listed:\n{table.inner_text()}"
        )
    assert console_errors == []
