"""parse_table_params: every form of the query string, every malformed one, and properties.

No schema and no database: only syntax (see datasette tests/test_filters.py).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dbplane.errors import MalformedParameter
from dbplane.query.model import Condition, FilterGroup, IncludeRequest, SortKey, TableRequest
from dbplane.query.params import (
    ACCEPTED_PARAMETERS,
    MAX_FILTER_DEPTH,
    parse_table_params,
    split_brackets,
)


def parse(qs: str) -> TableRequest:
    return parse_table_params(parse_qsl(qs, keep_blank_values=True))


def C(column: str, operator: str, value: Any) -> Condition:
    return Condition(column, operator, value)


def AND(*items: Condition | FilterGroup) -> FilterGroup:
    return FilterGroup("and", items)


def OR(*items: Condition | FilterGroup) -> FilterGroup:
    return FilterGroup("or", items)


# -- brackets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("limit", ("limit", ())),
        ("filters[a][$eq]", ("filters", ("a", "$eq"))),
        ("filters[my col][$eq]", ("filters", ("my col", "$eq"))),
        ("sort[0]", ("sort", ("0",))),
        ("fields[]", ("fields", ("",))),
        ("[a]", ("", ("a",))),
        ("", ("", ())),
        ("filters[a", None),
        ("filters[a]]", None),
        ("filters]a[", None),
        ("filters[a]x", None),
        ("filters[a[b]]", None),
        ("filters[a]x[b]", None),
        ("a]", None),
    ],
)
def test_split_brackets(key: str, expected: tuple[str, tuple[str, ...]] | None) -> None:
    assert split_brackets(key) == expected


# -- every accepted form ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("qs", "expected"),
    [
        ("", TableRequest()),
        ("limit=10&offset=20", TableRequest(limit=10, offset=20)),
        ("limit=0", TableRequest(limit=0)),
        ("limit=007", TableRequest(limit=7)),
        (f"offset={2**63 - 1}", TableRequest(offset=2**63 - 1)),
        ("count=exact", TableRequest(count_exact=True)),
        ("includeContentType=true", TableRequest(include_content_type=True)),
        ("includeContentType=TRUE", TableRequest(include_content_type=True)),
        ("includeContentType=1", TableRequest(include_content_type=True)),
        ("includeContentType", TableRequest(include_content_type=True)),
        ("includeContentType=false", TableRequest(include_content_type=False)),
        ("includeContentType=0", TableRequest(include_content_type=False)),
        # sort: the seed's forms, a comma list, repetition, any case of the direction
        ("sort=title", TableRequest(sort=(SortKey("title"),))),
        ("sort=title:desc", TableRequest(sort=(SortKey("title", True),))),
        ("sort=title:DESC", TableRequest(sort=(SortKey("title", True),))),
        ("sort=title:Asc", TableRequest(sort=(SortKey("title"),))),
        ("sort=a:asc,b:desc", TableRequest(sort=(SortKey("a"), SortKey("b", True)))),
        ("sort[0]=title:desc&sort[1]=body:asc",
         TableRequest(sort=(SortKey("title", True), SortKey("body")))),
        ("sort[1]=body&sort[0]=title",
         TableRequest(sort=(SortKey("title"), SortKey("body")))),
        ("sort[0]=a&sort[5]=b", TableRequest(sort=(SortKey("a"), SortKey("b")))),
        ("sort=a&sort=b:desc", TableRequest(sort=(SortKey("a"), SortKey("b", True)))),
        ("sort=a:b:asc", TableRequest(sort=(SortKey("a:b"),))),
        ("sort[0]=a,b:desc", TableRequest(sort=(SortKey("a,b", True),))),
        ("sort=my+col:desc", TableRequest(sort=(SortKey("my col", True),))),
        # fields
        ("fields=a,b", TableRequest(fields=("a", "b"))),
        ("fields=a&fields=b", TableRequest(fields=("a", "b"))),
        ("fields[1]=a&fields[0]=b", TableRequest(fields=("b", "a"))),
        ("fields=my+col,Select", TableRequest(fields=("my col", "Select"))),
        # include
        ("include=author,articles", TableRequest(include=(
            IncludeRequest("author"), IncludeRequest("articles")))),
        ("include=author&include=articles", TableRequest(include=(
            IncludeRequest("author"), IncludeRequest("articles")))),
        ("include=author,author", TableRequest(include=(IncludeRequest("author"),))),
        ("include[articles][limit]=5", TableRequest(include=(IncludeRequest("articles", 5),))),
        ("include=author&include[articles][limit]=0&include=articles",
         TableRequest(include=(IncludeRequest("author"), IncludeRequest("articles", 0)))),
        ("include=articles.author_id",
         TableRequest(include=(IncludeRequest("articles.author_id"),))),
    ],
)
def test_parse_scalars_sort_fields_include(qs: str, expected: TableRequest) -> None:
    assert parse(qs) == expected


@pytest.mark.parametrize(
    ("qs", "expected"),
    [
        ("filters[title][$eq]=hello", AND(C("title", "$eq", "hello"))),
        ("filters[title]=hello", AND(C("title", "$eq", "hello"))),
        ("filters[title][$contain]=ell", AND(C("title", "$contain", "ell"))),
        ("filters[title][$contains]=a,b", AND(C("title", "$contains", "a,b"))),
        ("filters[my+col][$eq]=x", AND(C("my col", "$eq", "x"))),
        ("filters[Select][$ne]=", AND(C("Select", "$ne", ""))),
        ("filters[t][$eq]=a%26b%3Dc", AND(C("t", "$eq", "a&b=c"))),
        ("filters[a.b][$eq]=1", AND(C("a.b", "$eq", "1"))),
        # lists
        ("filters[a][$in]=1,2,3", AND(C("a", "$in", ("1", "2", "3")))),
        ("filters[a][$in]=1", AND(C("a", "$in", ("1",)))),
        ("filters[a][$in]=", AND(C("a", "$in", ("",)))),
        ("filters[a][$nin]=x,y", AND(C("a", "$nin", ("x", "y")))),
        ("filters[a][$notIn]=x,y", AND(C("a", "$notIn", ("x", "y")))),
        ("filters[a][$in][0]=x,y&filters[a][$in][1]=z", AND(C("a", "$in", ("x,y", "z")))),
        ("filters[a][$in][1]=z&filters[a][$in][0]=y", AND(C("a", "$in", ("y", "z")))),
        ("filters[a][$in][3]=z&filters[a][$in][10]=y", AND(C("a", "$in", ("z", "y")))),
        ("filters[a][$between]=1,5", AND(C("a", "$between", ("1", "5")))),
        ("filters[a][$between][1]=5&filters[a][$between][0]=1,5",
         AND(C("a", "$between", ("1,5", "5")))),
        # null / notNull: false inverts
        ("filters[a][$null]=true", AND(C("a", "$null", None))),
        ("filters[a][$null]=", AND(C("a", "$null", None))),
        ("filters[a][$null]=1", AND(C("a", "$null", None))),
        ("filters[a][$null]=FALSE", AND(C("a", "$notNull", None))),
        ("filters[a][$null]=0", AND(C("a", "$notNull", None))),
        ("filters[a][$notNull]=true", AND(C("a", "$notNull", None))),
        ("filters[a][$notNull]=false", AND(C("a", "$null", None))),
        # several conditions: each one is kept, in the order given
        ("filters[a][$gt]=1&filters[a][$lt]=5", AND(C("a", "$gt", "1"), C("a", "$lt", "5"))),
        ("filters[a][$eq]=1&filters[a][$eq]=2", AND(C("a", "$eq", "1"), C("a", "$eq", "2"))),
        ("filters[b]=2&filters[a]=1", AND(C("b", "$eq", "2"), C("a", "$eq", "1"))),
        # operators are kept as given: the planner says which exist
        ("filters[a][$like]=x", AND(C("a", "$like", "x"))),
        ("filters[a][eq]=x", AND(C("a", "eq", "x"))),
        ("filters[a][$like][0]=x", AND(C("a", "$like", ("x",)))),
        # groups
        ("filters[$or][0][title][$eq]=a&filters[$or][1][title][$eq]=b",
         AND(OR(C("title", "$eq", "a"), C("title", "$eq", "b")))),
        ("filters[$or][1][title]=b&filters[$or][0][title]=a",
         AND(OR(C("title", "$eq", "a"), C("title", "$eq", "b")))),
        ("filters[$or][0][a][$eq]=1&filters[$or][0][b][$eq]=2&filters[$or][1][c][$eq]=3",
         AND(OR(AND(C("a", "$eq", "1"), C("b", "$eq", "2")), C("c", "$eq", "3")))),
        ("filters[$and][0][$or][0][a][$eq]=1&filters[$and][0][$or][1][b][$eq]=2"
         "&filters[$and][1][c][$eq]=3",
         AND(AND(OR(C("a", "$eq", "1"), C("b", "$eq", "2")), C("c", "$eq", "3")))),
        ("filters[a]=1&filters[$or][0][b]=2&filters[c]=3&filters[$or][1][d]=4",
         AND(C("a", "$eq", "1"), OR(C("b", "$eq", "2"), C("d", "$eq", "4")),
             C("c", "$eq", "3"))),
        ("filters[$or][0][a][$in]=1,2&filters[$or][1][a][$in][0]=3",
         AND(OR(C("a", "$in", ("1", "2")), C("a", "$in", ("3",))))),
        ("filters[$or][0][$and][0][a]=1&filters[$or][0][$and][1][b]=2",
         AND(OR(AND(C("a", "$eq", "1"), C("b", "$eq", "2"))))),
        ("filters[$or][0][a][$null]=false", AND(OR(C("a", "$notNull", None)))),
    ],
)
def test_parse_filters(qs: str, expected: FilterGroup) -> None:
    assert parse(qs).filters == expected


def test_the_seed_example_in_full() -> None:
    req = parse("limit=5&offset=10&sort[0]=title:desc&sort[1]=body:asc"
                "&filters[title][$eq]=hello&includeContentType=true&count=exact")
    assert req == TableRequest(
        limit=5, offset=10, sort=(SortKey("title", True), SortKey("body")),
        filters=AND(C("title", "$eq", "hello")), count_exact=True,
        include_content_type=True)


def test_groups_nest_to_the_maximum_depth() -> None:
    key = "filters" + "[$and][0]" * MAX_FILTER_DEPTH + "[a][$eq]"
    tree: Condition | FilterGroup = C("a", "$eq", "1")
    for _ in range(MAX_FILTER_DEPTH):
        tree = AND(tree)
    assert parse_table_params([(key, "1")]).filters == AND(tree)
    deeper = "filters" + "[$and][0]" * (MAX_FILTER_DEPTH + 1) + "[a][$eq]"
    with pytest.raises(MalformedParameter) as exc:
        parse_table_params([(deeper, "1")])
    assert exc.value.fields["parameter"] == deeper


# -- every malformed form names the parameter as given ---------------------------------


@pytest.mark.parametrize(
    ("pairs", "parameter", "says"),
    [
        ([("limit", "-1")], "limit", "non-negative integer"),
        ([("limit", "abc")], "limit", "non-negative integer"),
        ([("limit", "1.5")], "limit", "non-negative integer"),
        ([("limit", "")], "limit", "non-negative integer"),
        ([("limit", " 1")], "limit", "non-negative integer"),
        ([("limit", "1_000")], "limit", "non-negative integer"),
        ([("limit", "\uff11")], "limit", "non-negative integer"),  # a full-width digit
        ([("limit", "\u00b2")], "limit", "non-negative integer"),  # superscript two
        ([("limit", "9" * 70)], "limit", "too large"),
        ([("offset", str(2**63))], "offset", "too large"),
        ([("offset", "9" * 5000)], "offset", "too large"),
        ([("offset", "x")], "offset", "non-negative integer"),
        ([("limit", "1"), ("limit", "2")], "limit", "more than once"),
        ([("count", "exact"), ("count", "exact")], "count", "more than once"),
        ([("limit[0]", "1")], "limit[0]", "no brackets"),
        ([("count", "roughly")], "count", "count=exact"),
        ([("count", "")], "count", "count=exact"),
        ([("count", "EXACT")], "count", "count=exact"),
        ([("includeContentType", "yes")], "includeContentType", "true or false"),
        ([("sort", "title:up")], "sort", "column:desc"),
        ([("sort", "title:")], "sort", "column:desc"),
        ([("sort", ":desc")], "sort", "column:desc"),
        ([("sort", "")], "sort", "empty sort"),
        ([("sort", "a,,b")], "sort", "empty sort"),
        ([("sort", "a,")], "sort", "empty sort"),
        ([("sort[x]", "a")], "sort[x]", "index"),
        ([("sort[-1]", "a")], "sort[-1]", "index"),
        ([("sort[]", "a")], "sort[]", "index"),
        ([("sort[0][1]", "a")], "sort[0][1]", "index"),
        ([("sort[0]", "a"), ("sort[0]", "b")], "sort[0]", "twice"),
        ([("sort[0]", "")], "sort[0]", "empty sort"),
        ([("sort", "a"), ("sort[0]", "b")], "sort[0]", "one form"),
        ([("sort[0]", "a"), ("sort", "b")], "sort", "one form"),
        ([("fields", "")], "fields", "empty fields"),
        ([("fields", "a,")], "fields", "empty fields"),
        ([("fields[a]", "x")], "fields[a]", "index"),
        ([("include", "")], "include", "empty relation"),
        ([("include", "a,,b")], "include", "empty relation"),
        ([("include[a]", "1")], "include[a]", "include[relation][limit]"),
        ([("include[a][max]", "1")], "include[a][max]", "include[relation][limit]"),
        ([("include[][limit]", "1")], "include[][limit]", "include[relation][limit]"),
        ([("include[a][limit][0]", "1")], "include[a][limit][0]", "include[relation]"),
        ([("include[a][limit]", "x")], "include[a][limit]", "non-negative integer"),
        ([("include[a][limit]", "1"), ("include[a][limit]", "2")], "include[a][limit]",
         "more than once"),
        # filters: brackets
        ([("filters", "x")], "filters", "filters[column][$operator]"),
        ([("filters[a", "1")], "filters[a", "malformed brackets"),
        ([("filters[a]]", "1")], "filters[a]]", "malformed brackets"),
        ([("filters]a[", "1")], "filters]a[", "malformed brackets"),
        ([("filters[a]x", "1")], "filters[a]x", "malformed brackets"),
        ([("filters[a[b]][$eq]", "1")], "filters[a[b]][$eq]", "malformed brackets"),
        ([("filters[][$eq]", "1")], "filters[][$eq]", "empty column"),
        ([("filters[]", "1")], "filters[]", "empty column"),
        ([("filters[a][]", "1")], "filters[a][]", "empty operator"),
        ([("filters[a][$eq][x]", "1")], "filters[a][$eq][x]", "index"),
        ([("filters[a][$in][x]", "1")], "filters[a][$in][x]", "index"),
        ([("filters[a][$in][0][1]", "1")], "filters[a][$in][0][1]", "index"),
        ([("filters[a][$eq][0]", "1")], "filters[a][$eq][0]", "takes one value"),
        ([("filters[a][$null][0]", "true")], "filters[a][$null][0]", "takes one value"),
        ([("filters[a][$in][0]", "1"), ("filters[a][$in][0]", "2")], "filters[a][$in][0]",
         "twice"),
        ([("filters[a][$in]", "1"), ("filters[a][$in][0]", "2")], "filters[a][$in][0]",
         "one form"),
        ([("filters[a][$in][0]", "2"), ("filters[a][$in]", "1")], "filters[a][$in]",
         "one form"),
        # filters: values
        ([("filters[a][$between]", "1")], "filters[a][$between]", "two values"),
        ([("filters[a][$between]", "1,2,3")], "filters[a][$between]", "two values"),
        ([("filters[a][$between][0]", "1")], "filters[a][$between][0]", "two values"),
        ([("filters[a][$between][0]", "1"), ("filters[a][$between][2]", "3")],
         "filters[a][$between][2]", "two values"),
        ([("filters[a][$null]", "maybe")], "filters[a][$null]", "true, false"),
        ([("filters[a][$notNull]", "yes")], "filters[a][$notNull]", "true, false"),
        # filters: groups
        ([("filters[$or]", "1")], "filters[$or]", "indexed"),
        ([("filters[$or][x][a][$eq]", "1")], "filters[$or][x][a][$eq]", "indexed"),
        ([("filters[$or][-1][a]", "1")], "filters[$or][-1][a]", "indexed"),
        ([("filters[$and][1.5][a]", "1")], "filters[$and][1.5][a]", "indexed"),
        ([("filters[$or][0]", "1")], "filters[$or][0]", "filters[column][$operator]"),
        ([("filters[$or][0][]", "1")], "filters[$or][0][]", "empty column"),
        ([("filters[$not][a][$eq]", "1")], "filters[$not][a][$eq]", "$and and $or"),
        ([("filters[$eq]", "1")], "filters[$eq]", "$and and $or"),
        ([("filters[$OR][0][a]", "1")], "filters[$OR][0][a]", "$and and $or"),
        # unknown parameters
        ([("page", "2")], "page", "reads limit, offset"),
        ([("Limit", "2")], "Limit", "reads limit"),
        ([("filter[a]", "1")], "filter[a]", "not a parameter"),
        ([("[a]", "1")], "[a]", "not a parameter"),
        ([("", "")], "", "not a parameter"),
    ],
)
def test_malformed_names_the_parameter(pairs: list[tuple[str, str]], parameter: str,
                                       says: str) -> None:
    with pytest.raises(MalformedParameter) as exc:
        parse_table_params(pairs)
    err = exc.value
    assert err.fields == {"parameter": parameter}
    assert says in err.detail
    assert err.detail.startswith(f"{parameter}: ")


def test_unknown_parameter_lists_the_accepted_ones() -> None:
    with pytest.raises(MalformedParameter) as exc:
        parse("q=1")
    for name in ACCEPTED_PARAMETERS:
        assert name in exc.value.detail


# -- properties ------------------------------------------------------------------------

_CHARS = st.characters(codec="utf-8")
_TEXT = st.text(_CHARS, max_size=8)
_COLUMN = st.text(st.characters(codec="utf-8", exclude_characters="[]"), min_size=1,
                  max_size=8).filter(lambda s: not s.startswith("$"))
_ONE_OPS = ["$eq", "$ne", "$lt", "$gte", "$contains", "$contain", "$startsWith", "$like",
            "eq"]
_LIST_OPS = ["$in", "$nin", "$notIn"]


_CONDITIONS: st.SearchStrategy[Condition] = st.one_of(
    st.builds(Condition, _COLUMN, st.sampled_from(_ONE_OPS), _TEXT),
    st.builds(Condition, _COLUMN, st.sampled_from(_LIST_OPS),
              st.lists(_TEXT, min_size=1, max_size=4).map(tuple)),
    st.builds(Condition, _COLUMN, st.just("$between"), st.tuples(_TEXT, _TEXT)),
    st.builds(Condition, _COLUMN, st.sampled_from(["$null", "$notNull"]), st.none()),
)
_LEVEL_CONDITIONS = st.lists(_CONDITIONS, max_size=2, unique_by=lambda c: c.column)
_MAX_DEPTH = 3
_children: dict[int, st.SearchStrategy[list[list[Condition | FilterGroup]]]] = {}


def _unwrap(items: list[Condition | FilterGroup]) -> Condition | FilterGroup:
    return items[0] if len(items) == 1 else FilterGroup("and", tuple(items))


@st.composite
def _level(draw: st.DrawFn, depth: int) -> list[Condition | FilterGroup]:
    """One level's items as the parser builds them: conditions on distinct columns (the
    same column and operator twice is a table case above), at most one $and and one $or
    group, in any order."""
    conditions: list[Condition] = draw(_LEVEL_CONDITIONS)
    items: list[Condition | FilterGroup] = list(conditions)
    if depth < _MAX_DEPTH:
        for kind in ("and", "or"):
            if draw(st.integers(0, 2 + depth)) == 0:  # fewer groups deeper down
                children = draw(_children[depth + 1])
                items.append(FilterGroup(kind, tuple(_unwrap(c) for c in children)))
    if not items:
        items.append(draw(_CONDITIONS))
    return list(draw(st.permutations(items)))


# built once: strategies made inside a draw are validated again on every draw
for _depth in range(1, _MAX_DEPTH + 1):
    _children[_depth] = st.lists(_level(_depth), min_size=1, max_size=2)
_TREES = _level(0).map(lambda items: FilterGroup("and", tuple(items)))


def _level_ok(items: tuple[Condition | FilterGroup, ...]) -> bool:
    columns = [i.column for i in items if isinstance(i, Condition)]
    kinds = [i.kind for i in items if isinstance(i, FilterGroup)]
    return len(columns) == len(set(columns)) and len(kinds) == len(set(kinds))


def _render(data: st.DataObject, prefix: str, items: tuple[Condition | FilterGroup, ...],
            out: list[tuple[str, str]]) -> None:
    for item in items:
        if isinstance(item, FilterGroup):
            for j, child in enumerate(item.items):
                child_prefix = f"{prefix}[${item.kind}][{j}]"
                if (isinstance(child, FilterGroup) and child.kind == "and"
                        and len(child.items) > 1 and _level_ok(child.items)
                        and data.draw(st.booleans())):
                    _render(data, child_prefix, child.items, out)  # implicit and
                else:
                    _render(data, child_prefix, (child,), out)
            continue
        key = f"{prefix}[{item.column}][{item.operator}]"
        value = item.value
        if isinstance(value, tuple):
            if all("," not in v for v in value) and data.draw(st.booleans()):
                out.append((key, ",".join(value)))
            else:
                indexes = [0, 1] if item.operator == "$between" else sorted(data.draw(
                    st.lists(st.integers(0, 99), min_size=len(value),
                             max_size=len(value), unique=True)))
                out.extend((f"{key}[{i}]", v) for i, v in zip(indexes, value, strict=True))
        elif value is None:
            spelled = data.draw(st.sampled_from(["true", "1", "", "false", "0"]))
            if spelled in ("false", "0"):
                other = "$notNull" if item.operator == "$null" else "$null"
                key = f"{prefix}[{item.column}][{other}]"
            out.append((key, spelled))
        elif item.operator == "$eq" and data.draw(st.booleans()):
            out.append((f"{prefix}[{item.column}]", value))
        else:
            out.append((key, value))


@pytest.mark.slow
@given(st.data())
def test_filter_trees_round_trip_through_a_query_string(data: st.DataObject) -> None:
    tree = data.draw(_TREES)
    pairs: list[tuple[str, str]] = []
    _render(data, "filters", tree.items, pairs)
    qs = urlencode(pairs)
    assert parse(qs).filters == tree


_TOKENS = st.sampled_from([
    "filters", "sort", "fields", "include", "limit", "offset", "count", "[", "]", "[0]",
    "[1]", "[$or]", "[$and]", "[$in]", "[$eq]", "[$between]", "[$null]", "[a]", "[limit]",
    "$or", "0", "a", ",", ":", "x",
])
_VALUES = st.one_of(_TEXT, st.sampled_from(["", "1", "a,b", "true", "false", "a:desc",
                                            "exact", "-1", "1,2,3", "\uff11"]))


@given(st.lists(st.tuples(st.one_of(st.text(), st.lists(_TOKENS, max_size=8).map("".join)),
                          st.one_of(st.text(), _VALUES)), max_size=6))
def test_parse_raises_nothing_but_malformed_parameter(pairs: list[tuple[str, str]]) -> None:
    try:
        req = parse_table_params(pairs)
    except MalformedParameter as err:
        assert "parameter" in err.fields
        return
    assert isinstance(req, TableRequest)
