"""docs/errors-and-hooks.md documents every notifier and PROCTOR_UI_URL, with an example
that at least compiles and imports what exists."""

from __future__ import annotations

import re
from pathlib import Path

import proctor.notifications as notifications

DOC = Path(__file__).resolve().parents[2] / "docs" / "errors-and-hooks.md"


def test_every_notifier_is_documented_with_an_example():
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## Notifications"):]
    for name in ("slack_notifier", "webhook_notifier", "email_notifier"):
        assert f"**`{name}(" in section and hasattr(notifications, name)
    for variable in ("PROCTOR_UI_URL", "PROCTOR_SLACK_WEBHOOK_URL", "PROCTOR_EMAIL_SENDER"):
        assert variable in section
    (example,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    compile(example, str(DOC), "exec")
    assert "from proctor.notifications import email_notifier, slack_notifier, " \
           "webhook_notifier" in example
