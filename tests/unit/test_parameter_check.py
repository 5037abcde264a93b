"""The server's check of a deployment run's parameters against the flow's description."""

from proctor.server.api.parameter_check import parameter_problems

SCHEMA = {"parameters": [
    {"name": "n", "annotation": "int", "required": True, "default": None},
    {"name": "rate", "annotation": "float", "required": False, "default": 1.0},
    {"name": "label", "annotation": "str", "required": False, "default": "x"},
    {"name": "dry", "annotation": "bool", "required": False, "default": False},
    {"name": "ids", "annotation": "list[int]", "required": False, "default": []},
    {"name": "when", "annotation": "datetime", "required": False, "default": None},
]}


def messages(problems):
    return [p["msg"] for p in problems]


def test_good_parameters_pass():
    given = {"n": 3, "rate": 2, "label": "a", "dry": True, "ids": [1], "when": "2026-01-01"}
    assert parameter_problems(SCHEMA, {}, given) == []


def test_unknown_name_is_refused_naming_what_the_flow_takes():
    [problem] = parameter_problems(SCHEMA, {"n": 1}, {"m": 1})
    assert problem["loc"] == ["body", "parameters", "m"]
    assert "takes no parameter 'm'; it takes: n, rate, label, dry, ids, when" in problem["msg"]


def test_required_value_may_come_from_the_deployment():
    assert parameter_problems(SCHEMA, {"n": 5}, {}) == []
    assert messages(parameter_problems(SCHEMA, {}, {})) == [
        "parameter 'n' is required and the deployment gives no default"]


def test_wrong_kinds_are_refused_for_simple_annotations():
    problems = parameter_problems(SCHEMA, {}, {"n": "3", "rate": True, "dry": "yes", "ids": 4})
    assert messages(problems) == [
        "parameter 'n': expected int, got str '3'",
        "parameter 'rate': expected float, got bool True",
        "parameter 'dry': expected bool, got str 'yes'",
        "parameter 'ids': expected list[int], got int 4",
    ]


def test_no_description_checks_nothing():
    assert parameter_problems({}, {}, {"anything": object()}) == []
    assert parameter_problems(None, {}, {"x": 1}) == []
