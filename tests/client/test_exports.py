"""``__all__`` lists exactly the public names (as in encode/httpx's
tests/test_exported_members.py): submodules and ``__future__`` features aside."""

from __future__ import annotations
import __future__

import types

import pytest

import dbplane
import dbplane.client


def _public_names(module: types.ModuleType, private_included: tuple[str, ...] = ()) -> list[str]:
    return sorted(
        name for name, value in vars(module).items()
        if (not name.startswith("_") or name in private_included)
        and not isinstance(value, types.ModuleType | __future__._Feature)
    )


@pytest.mark.parametrize(("module", "private_included"), [
    (dbplane, ("__version__",)),
    (dbplane.client, ()),
])
def test_all_lists_the_public_names(module: types.ModuleType,
                                    private_included: tuple[str, ...]) -> None:
    for name in module.__all__:  # names loaded on first use (dbplane's clients) resolve
        getattr(module, name)
    assert sorted(module.__all__) == _public_names(module, private_included)
    assert module.__all__ == sorted(module.__all__)


def test_the_clients_are_exported_at_the_top() -> None:
    assert dbplane.ApiClient is dbplane.client.ApiClient
    assert dbplane.AsyncApiClient is dbplane.client.AsyncApiClient
