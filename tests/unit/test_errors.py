"""The error tree: stable, unique codes; one body shape; the client can rebuild them."""

from __future__ import annotations

import pytest

import dbplane.errors as errors
from dbplane.errors import DbplaneError, error_class_for_code

CLASSES = [getattr(errors, name) for name in errors.__all__
           if isinstance(getattr(errors, name), type)]


def test_every_error_class_is_exported_and_has_a_unique_code() -> None:
    def walk(cls: type[DbplaneError]) -> list[type[DbplaneError]]:
        return [cls, *[c for sub in cls.__subclasses__() for c in walk(sub)]]

    everything = walk(DbplaneError)
    # the client adds its own (ConnectionFailed); every server error lives in errors.py
    assert {c for c in everything if c.__module__ == "dbplane.errors"} == set(CLASSES)
    codes = [cls.code for cls in everything]
    assert len(codes) == len(set(codes)), "a code is used twice"
    for cls in everything:
        assert cls.__doc__, f"{cls.__name__} needs a docstring: it is its default message"
        assert 400 <= cls.status < 600


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_code_finds_the_class(cls: type[DbplaneError]) -> None:
    assert error_class_for_code(cls.code) is cls


def test_an_unknown_code_is_the_base_class() -> None:
    assert error_class_for_code("DBP-X999") is DbplaneError


def test_problem_body_round_trip() -> None:
    err = errors.DatabaseNotFound("shop")
    body = err.to_dict()
    assert body == {"type": "urn:dbplane:error:DBP-D101", "title": "Not found",
                    "status": 404, "detail": "no database has the id or resource_id 'shop'",
                    "code": "DBP-D101", "database": "shop"}
    again = error_class_for_code(body["code"]).from_problem(body)
    assert isinstance(again, errors.DatabaseNotFound)
    assert again.detail == err.detail
    assert again.fields == {"database": "shop"}


def test_the_docstring_is_the_default_message() -> None:
    assert errors.MissingToken().detail.startswith("This endpoint needs an `Authorization")
