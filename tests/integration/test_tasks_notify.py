"""proctor.tasks.notify against a real local HTTP listener and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import pytest
from aiosmtpd.controller import Controller

from proctor import Flow
from proctor.core.errors import TaskOptionError
from proctor.recording.memory import MemoryRecorder
from proctor.states import StateType
from proctor.tasks.notify import EmailMessage, SlackMessage
from tests.integration.test_notifications import MailRecorder, free_port


@pytest.fixture
def smtp():
    recorder = MailRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    recorder.port = controller.port
    try:
        yield recorder
    finally:
        controller.stop()


def test_slack_message_is_posted_and_a_5xx_is_retried(http_server, basic_executor):
    http_server.fail_first = 1
    recorder = MemoryRecorder()
    post = SlackMessage(f"{http_server.url}/hooks/T000/B000", max_retries=1, retry_delay=0)
    with Flow("slack", executor=basic_executor) as f:
        sent = post("Nightly load: 3 tables, 0 errors")
    state = f.run(observers=[recorder])
    assert state.result[sent].result is True
    assert http_server.bodies[-1] == {"text": "Nightly load: 3 tables, 0 errors"}
    assert recorder.history("slack_message") == ["Running", "Retrying", "Running", "Success"]


def test_slack_refusal_fails_at_once_and_hides_the_webhook_path(http_server):
    http_server.status = 404
    with Flow("slack-404") as f:
        sent = SlackMessage(f"{http_server.url}/hooks/T000/SECRETPATH", max_retries=2)("hi")
    state = f.run()
    failed = state.result[sent]
    assert failed.type is StateType.FAILED and "HTTP 404" in failed.message
    assert "SECRETPATH" not in failed.message
    assert len(http_server.requests) == 1  # a 404 is not retried


def test_email_message_reaches_the_smtp_server(smtp, basic_executor):
    mail = EmailMessage("Ops <ops@example.com>, data@example.com", smtp_host="127.0.0.1",
                        smtp_port=smtp.port, sender="Proctor <robot@example.com>")
    with Flow("mail", executor=basic_executor) as f:
        sent = mail(subject="Nightly report", body="All 3 tables loaded.")
    state = f.run()
    assert state.result[sent].result == ["ops@example.com", "data@example.com"]
    message = smtp.messages[-1]
    assert message["rcpt_tos"] == ["ops@example.com", "data@example.com"]
    assert message["message"]["Subject"] == "Nightly report"
    assert message["message"].get_content().strip() == "All 3 tables loaded."


def test_email_to_a_closed_port_asks_for_a_retry_then_fails():
    port = free_port()
    with Flow("mail-down") as f:
        sent = EmailMessage("ops@example.com", smtp_host="127.0.0.1", smtp_port=port,
                            max_retries=1, retry_delay=0)(subject="s", body="b")
    failed = f.run().result[sent]
    assert failed.type is StateType.FAILED
    assert failed.message.startswith(f"e-mail to ops@example.com via 127.0.0.1:{port}: ")


def test_bad_options_are_refused_where_written(monkeypatch):
    monkeypatch.delenv("PROCTOR_SLACK_WEBHOOK_URL", raising=False)
    with pytest.raises(TaskOptionError, match="PROCTOR_SLACK_WEBHOOK_URL"):
        SlackMessage()
    with pytest.raises(TaskOptionError, match="webhook_url"):
        SlackMessage("ftp://hooks.example.com/x")
    with pytest.raises(TaskOptionError, match="to"):
        EmailMessage("not an address")
    with pytest.raises(TaskOptionError, match="exclude each other"):
        EmailMessage("ops@example.com", ssl=True, starttls=True)
