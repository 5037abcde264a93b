"""Notifiers against real listeners on 127.0.0.1: an HTTP server and an SMTP server.

Nothing about HTTP or SMTP is mocked: the notifiers' requests and mails go over sockets to
servers started here, which record what they receive. `flush()` waits for the background sender,
and every test ends with the sender idle and its thread gone.
"""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
import threading
import time
import types

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from proctor.core.context import FLOW_RUN, TASK_RUN, FlowRunContext, TaskRunContext
from proctor.core.states import (
    Cached,
    Cancelled,
    Crashed,
    Failed,
    Mapped,
    Running,
    Skipped,
    StateType,
    Success,
    TimedOut,
    TriggerFailed,
)
from proctor.notifications import (
    delivery,
    email_notifier,
    flush,
    slack_notifier,
    webhook_notifier,
)

LOGGER = "proctor.notifications"


# -- listeners ------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MailRecorder:
    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "message": email.message_from_bytes(envelope.content, policy=email.policy.default),
            }
        )
        return "250 Message accepted for delivery"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode()
        password = auth_data.password.decode()
        self.logins.append((login, password))
        return AuthResult(success=(login, password) == ("robot", "s3cret"), handled=False)


@pytest.fixture
def smtp_server():
    recorder = MailRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    recorder.port = controller.port
    try:
        yield recorder
    finally:
        controller.stop()


@pytest.fixture
def smtp_server_with_login():
    recorder = MailRecorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=free_port(),
        authenticator=recorder.authenticate,
        auth_require_tls=False,
    )
    controller.start()
    recorder.port = controller.port
    try:
        yield recorder
    finally:
        controller.stop()


# -- common settings ------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def clean_sender(monkeypatch):
    """No stray configuration from the environment; sender idle and thread gone afterwards."""
    for var in ("PROCTOR_UI_URL", "PROCTOR_SLACK_WEBHOOK_URL", "PROCTOR_EMAIL_SENDER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setattr(delivery, "IDLE_SECONDS", 0.05)
    yield
    assert flush(5), "deliveries still pending at the end of the test"
    for thread in threading.enumerate():
        if thread.name == delivery.THREAD_NAME:
            thread.join(2)
            assert not thread.is_alive(), "notification thread still running"


@pytest.fixture
def run_context():
    """A flow run `etl` (fr-123) running task `extract`, map index 2, third attempt."""
    flow_run = FlowRunContext(flow_run_id="fr-123", flow_name="etl", parameters={"day": 1})
    task_run = TaskRunContext(
        id="tr-456",
        task_name="extract",
        task_key="extract-1",
        flow_run_id="fr-123",
        flow_name="etl",
        map_index=2,
        attempt=3,
    )
    flow_token = FLOW_RUN.set(flow_run)
    task_token = TASK_RUN.set(task_run)
    try:
        yield flow_run, task_run
    finally:
        TASK_RUN.reset(task_token)
        FLOW_RUN.reset(flow_token)


EXTRACT = types.SimpleNamespace(name="extract")
FAST = {"retries": 3, "backoff": 0.01, "timeout": 2.0}


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelname == "WARNING"]


# -- Slack ----------------------------------------------------------------------------------------
def test_slack_message_names_flow_task_state_message_and_links_the_run(
    http_server, run_context, monkeypatch
):
    monkeypatch.setenv("PROCTOR_UI_URL", "http://127.0.0.1:4200/")
    notify = slack_notifier(http_server.url + "/services/T0/B0/XYZ", **FAST)

    assert notify(EXTRACT, Running(), Failed("boom: disk full")) is None  # state-handler form
    assert flush(5)

    [(path, headers, body)] = http_server.requests
    assert path == "/services/T0/B0/XYZ"
    assert headers["content-type"].startswith("application/json")
    assert body["text"] == "[proctor] flow etl / task extract[2]: Failed: boom: disk full"
    blocks = body["blocks"]
    assert blocks[0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "flow etl / task extract[2]: Failed"},
    }
    fields = [f["text"] for f in blocks[1]["fields"]]
    assert "*Flow*\netl" in fields
    assert "*Task*\nextract[2]" in fields
    assert "*State*\nFailed" in fields
    assert "*Flow run*\n`fr-123`" in fields
    assert "*Attempt*\n3" in fields
    assert blocks[2]["text"]["text"] == "```boom: disk full```"
    assert (
        blocks[3]["text"]["text"] == "<http://127.0.0.1:4200/runs/fr-123|Open the run in Proctor>"
    )


def test_slack_without_ui_url_has_no_link(http_server, run_context):
    notify = slack_notifier(http_server.url + "/hook", **FAST)
    notify(EXTRACT, run_context[1], Failed("boom"))  # on_failure form
    assert flush(5)
    [body] = http_server.bodies
    assert "/runs/" not in json.dumps(body)


def test_slack_long_message_is_escaped_and_cut_to_fit(http_server, run_context):
    notify = slack_notifier(http_server.url + "/hook", **FAST)
    notify(EXTRACT, None, Failed("<b> & " + "x" * 10_000))
    assert flush(5)
    [body] = http_server.bodies
    text = body["blocks"][2]["text"]["text"]
    assert text.startswith("```&lt;b&gt; &amp; xxx")
    assert text.endswith("…```")
    assert len(text) <= 3000
    assert len(body["text"]) <= 300


def test_slack_url_comes_from_the_environment_when_not_given(http_server, monkeypatch):
    monkeypatch.setenv("PROCTOR_SLACK_WEBHOOK_URL", http_server.url + "/from-env")
    notify = slack_notifier(**FAST)
    monkeypatch.setenv("PROCTOR_SLACK_WEBHOOK_URL", http_server.url + "/changed-later")
    notify(EXTRACT, None, Failed("boom"))
    assert flush(5)
    assert [path for path, _, _ in http_server.requests] == ["/from-env"]


def test_slack_flow_hook_reports_the_flow(http_server):
    notify = slack_notifier(http_server.url + "/hook", **FAST)
    flow_run = FlowRunContext(flow_run_id="fr-9", flow_name="etl")
    notify(types.SimpleNamespace(name="etl"), flow_run, Crashed("worker died"))
    assert flush(5)
    [body] = http_server.bodies
    assert body["text"] == "[proctor] flow etl: Crashed: worker died"
    fields = [f["text"] for f in body["blocks"][1]["fields"]]
    assert not any(f.startswith("*Task*") for f in fields)


# -- which states are sent ------------------------------------------------------------------------
def test_default_only_states_is_the_failed_family(http_server):
    notify = webhook_notifier(http_server.url + "/hook", **FAST)
    for state in (Running(), Success(), Cached(), Skipped(), Cancelled(), Mapped([Success()])):
        notify(EXTRACT, None, state)
    for state in (
        Failed("f"),
        TriggerFailed("t"),
        TimedOut("o"),
        Crashed("c"),
        Mapped([Success(), Failed("child")]),
    ):
        notify(EXTRACT, None, state)
    assert flush(5)
    assert [b["state"]["type"] for b in http_server.bodies] == [
        "FAILED",
        "TRIGGER_FAILED",
        "TIMED_OUT",
        "CRASHED",
        "MAPPED",
    ]


def test_other_only_states_match_their_exact_type(http_server):
    notify = webhook_notifier(
        http_server.url + "/hook", only_states=[Success, "timed_out", StateType.CANCELLED], **FAST
    )
    for state in (Success(), Cached(), Failed(), TimedOut(), TriggerFailed(), Cancelled()):
        notify(EXTRACT, None, state)
    assert flush(5)
    assert [b["state"]["name"] for b in http_server.bodies] == ["Success", "TimedOut", "Cancelled"]


def test_only_states_none_sends_every_state(http_server):
    notify = webhook_notifier(http_server.url + "/hook", only_states=None, **FAST)
    notify(EXTRACT, None, Running())
    notify(EXTRACT, None, Success())
    assert flush(5)
    assert [b["state"]["name"] for b in http_server.bodies] == ["Running", "Success"]


# -- webhook --------------------------------------------------------------------------------------
def test_webhook_posts_the_document_with_the_given_headers(http_server, run_context, monkeypatch):
    monkeypatch.setenv("PROCTOR_UI_URL", "http://ui.example:4200")
    notify = webhook_notifier(
        http_server.url + "/events?source=proctor",
        headers={"Authorization": "Bearer t0ken", "X-Team": "data"},
        **FAST,
    )
    failed = Failed("boom", ended_at=1_700_000_000.5)
    notify(EXTRACT, Running(), failed)
    assert flush(5)

    [(path, headers, body)] = http_server.requests
    assert path == "/events?source=proctor"
    assert headers["authorization"] == "Bearer t0ken"
    assert headers["x-team"] == "data"
    assert headers["content-type"].startswith("application/json")
    assert body == {
        "event": "state_change",
        "flow_name": "etl",
        "flow_run_id": "fr-123",
        "task_name": "extract",
        "task_run_id": "tr-456",
        "map_index": 2,
        "attempt": 3,
        "state": {
            "type": "FAILED",
            "name": "Failed",
            "message": "boom",
            "timestamp": "2023-11-14T22:13:20.500000+00:00",
        },
        "run_url": "http://ui.example:4200/runs/fr-123",
    }


def test_webhook_uses_a_task_context_given_as_second_argument(http_server):
    notify = webhook_notifier(http_server.url + "/hook", **FAST)
    task_run = TaskRunContext(
        id="tr-1", task_name="load", task_key="load", flow_run_id="fr-1", flow_name="nightly"
    )
    notify(types.SimpleNamespace(name="load"), task_run, Failed("x"))
    assert flush(5)
    [body] = http_server.bodies
    assert (body["flow_name"], body["flow_run_id"]) == ("nightly", "fr-1")
    assert (body["task_name"], body["task_run_id"], body["map_index"]) == ("load", "tr-1", None)
    assert body["attempt"] == 1
    assert "run_url" not in body


def test_webhook_for_a_flow_leaves_task_fields_empty(http_server):
    notify = webhook_notifier(http_server.url + "/hook", **FAST)
    flow_run = FlowRunContext(flow_run_id="fr-7", flow_name="nightly")
    notify(types.SimpleNamespace(name="nightly"), flow_run, Failed("flow failed"))
    assert flush(5)
    [body] = http_server.bodies
    assert (body["flow_name"], body["flow_run_id"]) == ("nightly", "fr-7")
    assert body["task_name"] is None and body["task_run_id"] is None and body["attempt"] is None


def test_flow_state_handler_with_only_the_flow_context_set(http_server):
    notify = webhook_notifier(http_server.url + "/hook", **FAST)
    token = FLOW_RUN.set(FlowRunContext(flow_run_id="fr-8", flow_name="nightly"))
    try:
        notify(types.SimpleNamespace(name="nightly"), Running(), Failed("flow"))
        notify(types.SimpleNamespace(name="extract"), Running(), Failed("task"))
    finally:
        FLOW_RUN.reset(token)
    assert flush(5)
    flow_body, task_body = http_server.bodies
    assert (flow_body["flow_name"], flow_body["task_name"]) == ("nightly", None)
    assert (task_body["flow_name"], task_body["task_name"]) == ("nightly", "extract")
    assert task_body["flow_run_id"] == "fr-8"


def test_a_real_task_object_outside_any_run(http_server):
    from proctor import task

    @task
    def extract():
        return 1

    notify = webhook_notifier(http_server.url + "/hook", **FAST)
    notify(extract, Running(), Failed("boom"))
    assert flush(5)
    [body] = http_server.bodies
    assert body["task_name"] == "extract"
    assert body["flow_name"] is None and body["flow_run_id"] is None


# -- delivery: retries, giving up, never blocking -------------------------------------------------
def test_failed_deliveries_are_retried_until_they_succeed(http_server, caplog):
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    http_server.fail_first = 2
    notify = webhook_notifier(http_server.url + "/hook", retries=3, backoff=0.01)
    notify(EXTRACT, None, Failed("boom"))
    assert flush(5)
    assert len(http_server.requests) == 3
    assert warnings_of(caplog) == []


def test_gives_up_after_the_retries_with_a_warning(http_server, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    http_server.status = 500
    notify = slack_notifier(http_server.url + "/services/SECRET", retries=2, backoff=0.01)
    started = time.monotonic()
    notify(EXTRACT, None, Failed("boom"))
    assert time.monotonic() - started < 0.5
    assert flush(5)
    assert len(http_server.requests) == 3
    [warning] = warnings_of(caplog)
    assert "Slack message about task extract: Failed" in warning
    assert "after 3 attempt(s)" in warning and "HTTP 500" in warning
    assert "SECRET" not in warning


def test_client_errors_are_not_retried(http_server, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    http_server.status = 400
    notify = webhook_notifier(http_server.url + "/hook", retries=3, backoff=0.01)
    notify(EXTRACT, None, Failed("boom"))
    assert flush(5)
    assert len(http_server.requests) == 1
    [warning] = warnings_of(caplog)
    assert "after 1 attempt(s)" in warning and "HTTP 400" in warning


def test_a_dead_url_logs_a_warning_and_never_raises(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    port = free_port()  # nothing listens there any more
    notify = webhook_notifier(f"http://127.0.0.1:{port}/hook", retries=1, backoff=0.01)
    started = time.monotonic()
    assert notify(EXTRACT, None, Failed("boom")) is None
    assert time.monotonic() - started < 0.5
    assert flush(5)
    assert time.monotonic() - started < 3
    [warning] = warnings_of(caplog)
    assert f"127.0.0.1:{port}" in warning and "after 2 attempt(s)" in warning


def test_the_hook_returns_before_a_slow_delivery_and_flush_can_time_out(http_server):
    http_server.delay = 0.4
    notify = webhook_notifier(http_server.url + "/hook", **FAST)
    started = time.monotonic()
    notify(EXTRACT, None, Failed("boom"))
    assert time.monotonic() - started < 0.2
    assert flush(0.05) is False
    assert flush(5) is True
    assert len(http_server.requests) == 1


def test_flush_with_nothing_pending_is_immediate():
    started = time.monotonic()
    assert flush(0) is True
    assert flush() is True
    assert time.monotonic() - started < 0.1


def test_a_full_queue_drops_new_notifications_with_a_warning(http_server, caplog, monkeypatch):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    monkeypatch.setattr(delivery, "MAX_PENDING", 2)
    http_server.delay = 0.2
    notify = webhook_notifier(http_server.url + "/hook", **FAST)
    for i in range(4):
        notify(EXTRACT, None, Failed(f"boom {i}"))
    assert flush(5)
    assert [b["state"]["message"] for b in http_server.bodies] == ["boom 0", "boom 1"]
    [warning] = warnings_of(caplog)
    assert "queue is full" in warning


def test_odd_arguments_never_raise(http_server):
    notify = webhook_notifier(http_server.url + "/hook", **FAST)
    assert notify(object(), None, None) is None  # not a state: ignored
    assert notify(None, object(), Failed("no name")) is None
    assert flush(5)
    [body] = http_server.bodies
    assert body["state"]["message"] == "no name"


# -- email ----------------------------------------------------------------------------------------
def test_email_subject_body_and_recipients(smtp_server, run_context):
    notify = email_notifier(
        ["Ops Team <ops@example.com>", "dev@example.com"],
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        sender="Proctor <proctor@example.com>",
        **FAST,
    )
    notify(EXTRACT, run_context[1], Failed("boom", traceback="Traceback ...\nValueError: boom"))
    assert flush(5)

    [mail] = smtp_server.messages
    assert mail["mail_from"] == "proctor@example.com"
    assert mail["rcpt_tos"] == ["ops@example.com", "dev@example.com"]
    message = mail["message"]
    assert message["Subject"] == "[proctor] flow etl / task extract[2]: Failed"
    assert message["From"] == "Proctor <proctor@example.com>"
    assert message["To"] == "Ops Team <ops@example.com>, dev@example.com"
    body = message.get_content().replace("\r\n", "\n")
    for line in (
        "Flow:         etl",
        "Flow run id:  fr-123",
        "Task:         extract",
        "Task run id:  tr-456",
        "Map index:    2",
        "Attempt:      3",
        "State:        Failed (FAILED)",
    ):
        assert line in body
    assert "Message:\nboom" in body
    assert "ValueError: boom" in body


def test_email_sender_from_the_environment_and_a_comma_separated_to(smtp_server, monkeypatch):
    monkeypatch.setenv("PROCTOR_EMAIL_SENDER", "alerts@example.org")
    notify = email_notifier(
        "a@example.com, b@example.com", smtp_host="127.0.0.1", smtp_port=smtp_server.port, **FAST
    )
    notify(types.SimpleNamespace(name="etl"), FlowRunContext("fr-1", "etl"), TimedOut("slow"))
    assert flush(5)
    [mail] = smtp_server.messages
    assert mail["mail_from"] == "alerts@example.org"
    assert mail["rcpt_tos"] == ["a@example.com", "b@example.com"]
    assert mail["message"]["Subject"] == "[proctor] flow etl: TimedOut"
    assert "Task:" not in mail["message"].get_content()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_email_logs_in_when_given_credentials(smtp_server_with_login):
    notify = email_notifier(
        "ops@example.com",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server_with_login.port,
        username="robot",
        password="s3cret",
        **FAST,
    )
    notify(EXTRACT, None, Failed("boom"))
    assert flush(5)
    assert smtp_server_with_login.logins == [("robot", "s3cret")]
    assert len(smtp_server_with_login.messages) == 1


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_email_with_a_refused_login_gives_up_at_once(smtp_server_with_login, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    notify = email_notifier(
        "ops@example.com",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server_with_login.port,
        username="robot",
        password="wrong",
        **FAST,
    )
    notify(EXTRACT, None, Failed("boom"))
    assert flush(5)
    assert smtp_server_with_login.messages == []
    [warning] = warnings_of(caplog)
    assert "after 1 attempt(s)" in warning and "login refused" in warning
    assert "wrong" not in warning


def test_email_starttls_on_a_server_without_it_gives_up_with_a_warning(smtp_server, caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    notify = email_notifier(
        "ops@example.com",
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        starttls=True,
        **FAST,
    )
    notify(EXTRACT, None, Failed("boom"))
    assert flush(5)
    assert smtp_server.messages == []
    [warning] = warnings_of(caplog)
    assert "email about task extract: Failed to ops@example.com" in warning
    assert "after 1 attempt(s)" in warning


def test_email_to_a_dead_server_is_retried_then_dropped(caplog):
    caplog.set_level(logging.WARNING, logger=LOGGER)
    notify = email_notifier(
        "ops@example.com", smtp_host="127.0.0.1", smtp_port=free_port(), retries=1, backoff=0.01
    )
    started = time.monotonic()
    notify(EXTRACT, None, Failed("boom"))
    assert time.monotonic() - started < 0.5
    assert flush(5)
    [warning] = warnings_of(caplog)
    assert "after 2 attempt(s)" in warning
