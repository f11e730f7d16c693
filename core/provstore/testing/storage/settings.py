"""Global variables: JSON values under string keys, overwrite rules, missing keys."""

from __future__ import annotations

from typing import Any

import pytest

from provstore.exceptions import NotExistent
from provstore.storage import StorageBackend
from provstore.testing.storage.base import StorageTests, writes

__all__ = ["GlobalVariableTests"]

VALUES: list[Any] = [0, -7, 2**62, 1.5, "text", "ünï ☃", "", True, False, None, [1, "two", None], {"a": {"b": [1, 2]}}]


@writes
class GlobalVariableTests(StorageTests):
    """``set_global_variable``/``get_global_variable`` keep any JSON value, with its type, under a string key.

    Checks: every JSON value type round-trips (``None`` included, told apart from a missing key); a missing key
    raises ``NotExistent`` (a ``KeyError``) naming it; overwriting replaces the value; ``overwrite=False`` on an
    existing key raises ``ValueError`` and keeps the value; keys are independent and case-sensitive.
    """

    @pytest.mark.parametrize("value", VALUES, ids=repr)
    def test_round_trip(self, provstore_storage: StorageBackend, value: Any) -> None:
        provstore_storage.set_global_variable("key", value, description="a value")
        got = provstore_storage.get_global_variable("key")
        assert got == value
        assert type(got) is type(value)

    def test_missing_raises_not_existent(self, provstore_storage: StorageBackend) -> None:
        with pytest.raises(NotExistent, match="nope") as info:
            provstore_storage.get_global_variable("nope")
        assert isinstance(info.value, KeyError)

    def test_overwrite(self, provstore_storage: StorageBackend) -> None:
        provstore_storage.set_global_variable("key", {"nested": ["ü", 1.5, None]}, description="first")
        provstore_storage.set_global_variable("key", 2)
        assert provstore_storage.get_global_variable("key") == 2

    def test_without_overwrite(self, provstore_storage: StorageBackend) -> None:
        provstore_storage.set_global_variable("new", 1, overwrite=False)
        with pytest.raises(ValueError):
            provstore_storage.set_global_variable("new", 2, overwrite=False)
        assert provstore_storage.get_global_variable("new") == 1

    def test_keys_are_independent_and_case_sensitive(self, provstore_storage: StorageBackend) -> None:
        for index, key in enumerate(["a", "A", "a.b", "a b", "ü"]):
            provstore_storage.set_global_variable(key, index)
        assert [provstore_storage.get_global_variable(key) for key in ["a", "A", "a.b", "a b", "ü"]] == [0, 1, 2, 3, 4]

    def test_iter_global_variables_lists_the_data_variables_in_order(self, provstore_storage: StorageBackend) -> None:
        """What a transfer copies: every variable set, oldest first, with its latest value and description."""
        storage = provstore_storage
        before = [key for key, _, _ in storage.iter_global_variables()]
        storage.set_global_variable("first", {"a": [1]}, description="the first")
        storage.set_global_variable("second", "two")
        storage.set_global_variable("first", 1)  # a new value keeps the place and the description
        listed = [item for item in storage.iter_global_variables() if item[0] not in before]
        assert listed == [("first", 1, "the first"), ("second", "two", "")]
        if self.has_repository and storage.get_repository().uuid is not None:
            assert storage.get_repository().uuid not in [value for _, value, _ in storage.iter_global_variables()]
