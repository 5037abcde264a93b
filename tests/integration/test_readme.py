"""The README's tour is real code: run it."""

import pathlib
import re


def test_readme_tour_runs():
    text = (pathlib.Path(__file__).parents[2] / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {"__name__": "readme_tour"}
    exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["etl"](n=3) == 6
