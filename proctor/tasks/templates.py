"""`JinjaTemplate`: render a Jinja2 template with the run's context and the given values."""

from __future__ import annotations

from typing import Any

from ..core.context_values import context
from ..core.errors import TaskOptionError
from ..core.task import Task


class JinjaTemplate(Task):
    """`JinjaTemplate(template="Hello {{ name }} on {{ today }}")(name="Ada")`: the rendered
    text. The template sees `proctor.context` (today, flow_name, parameters, ...) and the
    keyword values of the call (which win). Needs jinja2 (installed with proctor[server])."""

    def __init__(self, template: str | None = None, **options: Any) -> None:
        self.template = template
        options.setdefault("name", "JinjaTemplate")
        super().__init__(**options)

    def run(self, template: str | None = None, **format_kwargs: Any) -> str:
        try:
            import jinja2
        except ImportError:
            raise TaskOptionError(
                "JinjaTemplate needs jinja2: pip install jinja2 (or proctor[server])"
            ) from None
        text = template if template is not None else self.template
        if text is None:
            raise TaskOptionError(
                f"task {self.name!r}: no template; give JinjaTemplate(template='...') or "
                f"call it with template='...'"
            )
        values = {k: v for k, v in context.to_dict().items() if k != "logger"}
        values.update(format_kwargs)
        return jinja2.Template(text).render(**values)


class StringFormatter(Task):
    """`StringFormatter(template="{flow_name} ran on {today}")(extra="x")`: `str.format` of the
    template with the run's context and the call's keyword values (Prefect 1's)."""

    def __init__(self, template: str | None = None, **options: Any) -> None:
        self.template = template
        options.setdefault("name", "StringFormatter")
        super().__init__(**options)

    def run(self, template: str | None = None, **format_kwargs: Any) -> str:
        text = template if template is not None else self.template
        if text is None:
            raise TaskOptionError(f"task {self.name!r}: no template to format")
        values = {k: v for k, v in context.to_dict().items() if k != "logger"}
        values.update(format_kwargs)
        return text.format(**values)
