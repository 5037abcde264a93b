"""Notifier configuration is checked when a notifier is created, with messages that say why.

Also the pure parts: state filtering, payload formatting, redaction, pickling, and that
`import proctor` leaves the notifications package alone.
"""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from proctor.core.errors import ProctorError
from proctor.core.states import (
    Cached,
    Cancelled,
    Crashed,
    Failed,
    Mapped,
    Running,
    StateType,
    Success,
    TimedOut,
    TriggerFailed,
)
from proctor.notifications import (
    NotificationConfigError,
    email_notifier,
    slack_notifier,
    webhook_notifier,
)
from proctor.notifications.event import NotificationEvent
from proctor.notifications.filters import StateFilter
from proctor.notifications.mail import email_body, email_subject
from proctor.notifications.slack import slack_payload


@pytest.fixture(autouse=True)
def no_env(monkeypatch):
    for var in ("PROCTOR_UI_URL", "PROCTOR_SLACK_WEBHOOK_URL", "PROCTOR_EMAIL_SENDER"):
        monkeypatch.delenv(var, raising=False)


def test_config_error_is_a_proctor_error_and_a_value_error():
    assert issubclass(NotificationConfigError, ProctorError)
    assert issubclass(NotificationConfigError, ValueError)


# -- URLs -----------------------------------------------------------------------------------------
def test_slack_without_url_or_environment_says_how_to_configure_it():
    with pytest.raises(NotificationConfigError) as err:
        slack_notifier()
    message = str(err.value)
    assert "PROCTOR_SLACK_WEBHOOK_URL" in message and "webhook_url=" in message


def test_slack_with_an_empty_environment_variable_is_missing_too(monkeypatch):
    monkeypatch.setenv("PROCTOR_SLACK_WEBHOOK_URL", "")
    with pytest.raises(NotificationConfigError, match="PROCTOR_SLACK_WEBHOOK_URL"):
        slack_notifier()


def test_slack_with_a_bad_url_in_the_environment_names_the_variable(monkeypatch):
    monkeypatch.setenv("PROCTOR_SLACK_WEBHOOK_URL", "hooks.slack.com/services/x")
    with pytest.raises(NotificationConfigError) as err:
        slack_notifier()
    assert "PROCTOR_SLACK_WEBHOOK_URL" in str(err.value)
    assert "'hooks.slack.com/services/x'" in str(err.value)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "file:///etc/passwd",
        "https://",
        "http:///path",
        "not a url",
        "https://example.com:99999/x",
        "javascript:alert(1)",
    ],
)
def test_bad_urls_are_refused_by_name(url):
    for make in (lambda: slack_notifier(url), lambda: webhook_notifier(url)):
        with pytest.raises(NotificationConfigError) as err:
            make()
        assert repr(url) in str(err.value)


@pytest.mark.parametrize("url", [None, 42, ""])
def test_webhook_url_must_be_a_string(url):
    with pytest.raises(NotificationConfigError, match="http"):
        webhook_notifier(url)


def test_good_urls_are_accepted():
    assert slack_notifier("https://hooks.slack.com/services/T/B/X").webhook_url.startswith("https")
    assert (
        webhook_notifier(" http://127.0.0.1:8080/hook?x=1 ").url == "http://127.0.0.1:8080/hook?x=1"
    )


# -- headers --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "needle"),
    [
        ([("Authorization", "x")], "mapping"),
        ("Authorization: x", "mapping"),
        ({"Authorization": 42}, "'Authorization' has a int value 42"),
        ({"Authorization": None}, "must be strings"),
        ({1: "x"}, "header name 1"),
        ({"Bad Name": "x"}, "'Bad Name'"),
        ({"": "x"}, "header name ''"),
        ({"X-Ok": "a\r\nX-Injected: b"}, "line break"),
    ],
)
def test_bad_headers_are_refused(headers, needle):
    with pytest.raises(NotificationConfigError) as err:
        webhook_notifier("https://example.com/hook", headers=headers)
    assert needle in str(err.value)


def test_headers_are_copied():
    given = {"Authorization": "Bearer x"}
    notifier = webhook_notifier("https://example.com/hook", headers=given)
    given["Authorization"] = "changed"
    assert notifier.headers == {"Authorization": "Bearer x"}


# -- email ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "bad",
    [
        "not an address",
        "ops@",
        "@example.com",
        "ops example.com",
        "ops@exa mple.com",
        "ops@-example.com",
        "ops@example..com",
        "ops@example.com>",
    ],
)
def test_bad_email_addresses_are_named(bad):
    with pytest.raises(NotificationConfigError) as err:
        email_notifier(bad)
    assert repr(bad) in str(err.value)


def test_a_bad_address_in_a_list_is_named():
    with pytest.raises(NotificationConfigError, match="'oops'"):
        email_notifier(["ok@example.com", "oops"])


@pytest.mark.parametrize("to", [[], (), None, 42, [None]])
def test_email_needs_recipients(to):
    with pytest.raises(NotificationConfigError, match="to"):
        email_notifier(to)


def test_email_addresses_keep_their_display_names():
    notifier = email_notifier(["Ops <ops@example.com>", "dev@example.com, qa@example.com"])
    assert notifier.to == [
        ("ops@example.com", "Ops <ops@example.com>"),
        ("dev@example.com", "dev@example.com"),
        ("qa@example.com", "qa@example.com"),
    ]
    assert notifier.sender == ("proctor@localhost", "proctor@localhost")


def test_bad_sender_is_named(monkeypatch):
    with pytest.raises(NotificationConfigError, match="sender: 'nobody'"):
        email_notifier("ops@example.com", sender="nobody")
    with pytest.raises(NotificationConfigError, match="single address"):
        email_notifier("ops@example.com", sender="a@example.com, b@example.com")
    monkeypatch.setenv("PROCTOR_EMAIL_SENDER", "broken")
    with pytest.raises(NotificationConfigError, match="PROCTOR_EMAIL_SENDER"):
        email_notifier("ops@example.com")


@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"ssl": True, "starttls": True}, "not both"),
        ({"username": "robot"}, "together"),
        ({"password": "x"}, "together"),
        ({"smtp_port": 0}, "smtp_port"),
        ({"smtp_port": "25"}, "smtp_port"),
        ({"smtp_host": ""}, "smtp_host"),
        ({"smtp_host": "mail example"}, "smtp_host"),
    ],
)
def test_inconsistent_smtp_options_are_refused(options, needle):
    with pytest.raises(NotificationConfigError, match=needle):
        email_notifier("ops@example.com", **options)


# -- shared options -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("options", "needle"),
    [
        ({"timeout": 0}, "timeout"),
        ({"timeout": float("inf")}, "timeout"),
        ({"retries": -1}, "retries"),
        ({"retries": 1.5}, "retries"),
        ({"retries": True}, "retries"),
        ({"backoff": -0.1}, "backoff"),
        ({"only_states": []}, "empty"),
        ({"only_states": ["Nope"]}, "unknown state name 'Nope'"),
        ({"only_states": [42]}, "42 is not a state"),
        ({"only_states": [len]}, "is not a state"),
        ({"only_states": 42}, "only_states"),
    ],
)
def test_bad_shared_options_are_refused(options, needle):
    with pytest.raises(NotificationConfigError, match=needle):
        webhook_notifier("https://example.com/hook", **options)


# -- state filter ---------------------------------------------------------------------------------
@pytest.mark.parametrize("spec", [Failed, StateType.FAILED, "Failed", "FAILED", "failed"])
def test_failed_in_any_spelling_covers_every_failed_state(spec):
    only = StateFilter.build([spec])
    for state in (Failed(), TriggerFailed(), TimedOut(), Crashed(), Mapped([Success(), Failed()])):
        assert only.matches(state), state
    for state in (Success(), Cached(), Cancelled(), Running(), Mapped([Success()])):
        assert not only.matches(state), state


def test_other_states_match_exactly_and_names_are_forgiving():
    only = StateFilter.build([Success, "timed_out", "TriggerFailed", StateType.CANCELLED])
    assert only.types == {
        StateType.SUCCESS,
        StateType.TIMED_OUT,
        StateType.TRIGGER_FAILED,
        StateType.CANCELLED,
    }
    assert only.matches(TimedOut()) and not only.matches(Failed()) and not only.matches(Cached())


def test_a_single_state_is_accepted_without_a_list():
    assert StateFilter.build(Success).types == {StateType.SUCCESS}
    assert StateFilter.build("Crashed").types == {StateType.CRASHED}
    assert StateFilter.build(None).matches(Running())


# -- formatting -----------------------------------------------------------------------------------
def event(**fields) -> NotificationEvent:
    base = {"state": Failed("boom", ended_at=0.0), "flow_name": "etl", "flow_run_id": "fr-1"}
    return NotificationEvent(**(base | fields))


def test_titles_and_subjects():
    assert event().title == "flow etl: Failed"
    assert event(task_name="extract", map_index=0).title == "flow etl / task extract[0]: Failed"
    assert event(flow_name=None, task_name="t").title == "task t: Failed"
    assert email_subject(event(flow_name="multi\nline")) == "[proctor] flow multi line: Failed"


def test_slack_payload_escapes_names_and_omits_unknowns():
    payload = slack_payload(event(flow_name="<etl & co>", flow_run_id=None))
    fields = [f["text"] for f in payload["blocks"][1]["fields"]]
    assert fields == ["*Flow*\n&lt;etl &amp; co&gt;", "*State*\nFailed"]
    # The top-level text is mrkdwn as well: escaped the same way.
    assert payload["text"] == "[proctor] flow &lt;etl &amp; co&gt;: Failed: boom"
    bold = slack_payload(event(state=Failed("<b>bad</b> & worse", ended_at=0.0)))
    assert bold["text"] == "[proctor] flow etl: Failed: &lt;b&gt;bad&lt;/b&gt; &amp; worse"


def test_email_body_lists_known_fields_only():
    body = email_body(event(state=Success(ended_at=0.0)))
    assert "Task:" not in body and "Run:" not in body
    assert "Flow:" in body and "Time:" in body and "1970-01-01T00:00:00+00:00" in body
    assert body.endswith("Message:\n(none)\n")


def test_reprs_do_not_leak_secrets():
    assert "SECRET" not in repr(slack_notifier("https://hooks.slack.com/services/SECRET"))
    assert "tok" not in repr(webhook_notifier("https://user:pw@example.com/h?tok=1"))
    assert "pw" not in repr(webhook_notifier("https://user:pw@example.com/h?tok=1"))
    mailer = email_notifier("ops@example.com", username="robot", password="hunter2")
    assert "hunter2" not in repr(mailer)


def test_notifiers_pickle_for_process_executors():
    for notifier in (
        slack_notifier("https://hooks.slack.com/services/x"),
        webhook_notifier("https://example.com/h", headers={"A": "b"}, only_states=None),
        email_notifier("ops@example.com"),
    ):
        copy = pickle.loads(pickle.dumps(notifier))
        assert repr(copy) == repr(notifier)


def test_import_proctor_does_not_import_notifications():
    code = "import sys, proctor; print('proctor.notifications' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
