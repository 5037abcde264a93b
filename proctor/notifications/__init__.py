"""Tell people when runs fail: Slack, any HTTP webhook, or email.

Each factory returns a hook usable as a state handler or as an `on_failure` (or other `on_*`)
hook of a task or flow::

    from proctor.notifications import slack_notifier

    @task(on_failure=[slack_notifier()])   # URL from PROCTOR_SLACK_WEBHOOK_URL
    def extract(): ...

Configuration is checked when the notifier is created (`NotificationConfigError`); delivery
happens on a background thread with retries, and never raises into the run. `flush()` waits for
pending deliveries (e.g. at the end of a test). This package is not imported by `import proctor`,
so the HTTP and SMTP code costs nothing to those who do not use it.
"""

from .delivery import flush
from .errors import NotificationConfigError
from .mail import email_notifier
from .slack import slack_notifier
from .webhook import webhook_notifier

__all__ = [
    "slack_notifier",
    "webhook_notifier",
    "email_notifier",
    "flush",
    "NotificationConfigError",
]
