"""Workshop step 4: hooks that tell people when something happens (Slack here).

Set `PROCTOR_SLACK_WEBHOOK_URL` to a Slack incoming-webhook URL and every failure of `load` (and
of the flow) is posted to your channel. With no URL set, the example prints the message it would
have sent, so you can see it without a Slack workspace.

Run it: `proctor run examples/04_hooks.py:flow` (exit code 1: `load` fails on purpose).
"""

import json
import os

from proctor import Flow, task
from proctor.notifications import flush, slack_notifier
from proctor.notifications.event import describe
from proctor.notifications.slack import slack_payload


def print_instead(obj, second, state):
    """What slack_notifier would post, printed: the stand-in when no webhook URL is set."""
    if state.is_failed():
        print("Would post to Slack:", json.dumps(slack_payload(describe(obj, second, state)),
                                                 indent=2))


def notify_on_failure():
    """The Slack notifier when a webhook URL is configured, else the printing stand-in."""
    if os.environ.get("PROCTOR_SLACK_WEBHOOK_URL"):
        return slack_notifier()  # reads the URL from the environment; only_states=(Failed,)
    return print_instead


notify = notify_on_failure()


@task
def extract():
    return [{"id": 1, "amount": 10}, {"id": 2, "amount": -5}]


@task(on_failure=[notify])  # decorator-style hook: called with (task, task_run, state)
def load(rows):
    bad = [r["id"] for r in rows if r["amount"] < 0]
    if bad:
        raise ValueError(f"negative amounts in rows {bad}")
    return len(rows)


with Flow("hooks-demo", state_handlers=[notify]) as flow:  # Prefect-1 style: (flow, old, new)
    load(extract())


if __name__ == "__main__":
    state = flow.run()
    flush()  # wait for deliveries before the script ends
    print("flow:", state.name)
