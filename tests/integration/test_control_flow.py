"""Branches of a graph-style flow (`case`, `switch`, `ifelse`, `merge`) with Prefect 1's
semantics, on every executor: the branch not taken ends Skipped, all of it; `merge` returns the
branch that ran; a flow whose every branch was skipped still succeeds."""

from __future__ import annotations

import pytest

from proctor import Flow, Parameter, case, ifelse, merge, switch, task
from proctor.core.errors import FlowDefinitionError


@task
def identity(x):
    return x


@task
def shout(word):
    return word.upper()


@task
def whisper(word):
    return word.lower()


@task
def framed(text):
    return f"[{text}]"


def _states(state):
    return {node.key: state.result[node] for node in state.result}


def test_case_runs_the_matching_branch_and_merge_returns_it(executor):
    with Flow("branches", executor=executor) as flow:
        mood = Parameter("mood", default="loud")
        chosen = identity(mood)
        with case(chosen, "loud"):
            loud = shout("Hello")
        with case(chosen, "quiet"):
            quiet = whisper("Hello")
        out = framed(merge(loud, quiet))
    state = flow.run()
    assert state.is_successful(), state.message
    assert state.result[out].result == "[HELLO]"
    assert state.result[quiet].is_skipped()
    assert "not 'quiet': branch not taken" in _states(state)["case('quiet')"].message
    state = flow.run(parameters={"mood": "quiet"})
    assert state.result[out].result == "[hello]"
    assert state.result[loud].is_skipped()


def test_no_branch_taken_skips_merge_and_what_follows_and_the_flow_succeeds(executor):
    with Flow("none-taken", executor=executor) as flow:
        with case(identity("z"), "a"):
            a = shout("a")
        out = framed(merge(a))
    state = flow.run()
    assert state.is_successful(), state.message
    assert state.result[a].is_skipped() and state.result[out].is_skipped()


def test_nested_cases(executor):
    with Flow("nested", executor=executor) as flow:
        outer = Parameter("outer", default=True)
        inner = Parameter("inner", default=True)
        with case(outer, True):
            with case(inner, True):
                both = shout("both")
            with case(inner, False):
                only_outer = shout("outer")
    state = flow.run()
    assert state.result[both].result == "BOTH" and state.result[only_outer].is_skipped()
    state = flow.run(parameters={"outer": False, "inner": True})
    assert state.result[both].is_skipped() and state.result[only_outer].is_skipped()
    assert state.is_successful()


def test_switch_and_ifelse_guard_tasks_made_before(executor):
    with Flow("switched", executor=executor) as flow:
        kind = Parameter("kind", default="b")
        a, b, c = shout("a"), shout("b"), shout("c")
        switch(identity(kind), {"a": a, "b": b, "c": c})
        yes, no = whisper("YES"), whisper("NO")
        ifelse(identity(kind), yes, no)
    state = flow.run()
    assert [state.result[t].is_skipped() for t in (a, b, c)] == [True, False, True]
    assert state.result[b].result == "B"
    assert state.result[yes].result == "yes" and state.result[no].is_skipped()
    state = flow.run(parameters={"kind": ""})  # no case matches, and "" is falsy
    assert all(state.result[t].is_skipped() for t in (a, b, c, yes))
    assert state.result[no].result == "no"


def test_branches_belong_in_a_graph():
    with pytest.raises(FlowDefinitionError, match="a plain `if`"):
        with case(identity, 1):
            pass
    with Flow("f"):
        with pytest.raises(FlowDefinitionError, match="dict"):
            switch(identity(1), {})
