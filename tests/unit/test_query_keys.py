"""Primary keys in a record's path: one value verbatim, composite values escaped."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbplane.errors import MalformedParameter
from dbplane.query.keys import format_key, split_key


@pytest.mark.parametrize(
    ("raw", "n", "values"),
    [
        ("9d370085-c116-47c9-9b22-7f33061ec7b1", 1, ("9d370085-c116-47c9-9b22-7f33061ec7b1",)),
        ("a,b\\c", 1, ("a,b\\c",)),  # one column: the value itself, nothing escaped
        ("", 1, ("",)),
        ("17,3", 2, ("17", "3")),
        ("a\\,b,c", 2, ("a,b", "c")),
        ("a\\\\,b", 2, ("a\\", "b")),
        ("a\\\\\\,b,c", 2, ("a\\,b", "c")),
        (",", 2, ("", "")),
        ("1,2,3", 3, ("1", "2", "3")),
        ("x,,z", 3, ("x", "", "z")),
    ],
)
def test_split_and_format(raw: str, n: int, values: tuple[str, ...]) -> None:
    assert split_key(raw, n) == values
    assert format_key(values) == raw


@pytest.mark.parametrize(
    ("raw", "n", "says"),
    [
        ("17", 2, "has 1"),
        ("1,2,3", 2, "has 3"),
        ("a\\,b", 2, "has 1"),
        ("a\\b,c", 2, "escapes only"),
        ("a,b\\", 2, "escapes only"),
        ("1,2", 3, "has 2"),
    ],
)
def test_malformed_keys(raw: str, n: int, says: str) -> None:
    with pytest.raises(MalformedParameter) as exc:
        split_key(raw, n)
    assert exc.value.fields == {"parameter": "id"}
    assert says in exc.value.detail


def test_a_key_has_at_least_one_column() -> None:
    with pytest.raises(ValueError, match="at least one"):
        split_key("x", 0)


_KEY_TEXT = st.text(st.sampled_from("ab,\\ é") | st.characters(), max_size=10)


@given(st.lists(_KEY_TEXT, min_size=1, max_size=5).map(tuple))
def test_split_inverts_format(values: tuple[str, ...]) -> None:
    assert split_key(format_key(values), len(values)) == values


@given(st.text(), st.integers(1, 5))
def test_split_raises_only_malformed_parameter(raw: str, n: int) -> None:
    try:
        parts = split_key(raw, n)
    except MalformedParameter:
        return
    assert len(parts) == n
    assert split_key(format_key(parts), n) == parts
