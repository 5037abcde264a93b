"""Locating handles in call arguments, resolving them, and expanding maps."""

import pytest

from proctor.core.bindings import Unmapped, bind, expand, strip_unmapped, unmapped
from proctor.core.errors import MappingError


class H:
    """A stand-in handle."""

    _proctor_handle = True

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return self.name


def to_node(value):
    return value if isinstance(value, H) else None


def test_direct_handles_are_found_by_position_and_keyword():
    a, b = H("a"), H("b")
    bound = bind((a, 1), {"y": b}, to_node)
    assert bound.deps == (a, b)
    assert bound.direct == ((0, a), ("y", b))
    assert not bound.deep
    args, kwargs = bound.resolve(lambda h: h.name.upper())
    assert args == ["A", 1] and kwargs == {"y": "B"}


def test_handles_inside_containers_are_dependencies():
    a, b, c = H("a"), H("b"), H("c")
    bound = bind(([a, 1], {"k": (b,)}), {"s": {"x": c}}, to_node)
    assert set(bound.deps) == {a, b, c}
    assert bound.deep
    args, kwargs = bound.resolve(lambda h: h.name)
    assert args == [["a", 1], {"k": ("b",)}] and kwargs == {"s": {"x": "c"}}


def test_repeated_handle_is_one_dependency():
    a = H("a")
    assert bind((a, a), {}, to_node).deps == (a,)


def test_plain_values_are_left_alone():
    data = [1, 2, {"x": 3}]
    bound = bind((data,), {}, to_node)
    assert bound.deps == () and bound.args[0] is data


def test_expand_zips_mapped_arguments_and_repeats_unmapped():
    runs = expand("t", [[1, 2, 3], Unmapped(10)], {"z": ["a", "b", "c"]})
    assert runs == [([1, 10], {"z": "a"}), ([2, 10], {"z": "b"}), ([3, 10], {"z": "c"})]


def test_expand_over_empty_gives_no_runs():
    assert expand("t", [[]], {}) == []


def test_expand_rejects_unequal_lengths_with_names():
    with pytest.raises(MappingError, match=r"different lengths \(#0=2, 'y'=3\)"):
        expand("t", [[1, 2]], {"y": [1, 2, 3]})


def test_expand_rejects_non_iterables_and_strings():
    with pytest.raises(MappingError, match="argument #0 of type int"):
        expand("t", [5], {})
    with pytest.raises(MappingError, match="of type str"):
        expand("t", ["abc"], {})


def test_expand_needs_something_to_map():
    with pytest.raises(MappingError, match="nothing to map over"):
        expand("t", [Unmapped([1])], {})


def test_unmapped_is_idempotent_and_stripped_for_plain_calls():
    u = unmapped(3)
    assert unmapped(u) is u
    assert strip_unmapped([u, 1], {"k": unmapped(2)}) == ([3, 1], {"k": 2})
