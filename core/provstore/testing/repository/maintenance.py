"""``get_info`` and ``maintain`` report plain data."""

from __future__ import annotations

import json

import pytest

from provstore.repository import AbstractRepositoryBackend
from provstore.testing.repository.base import RepositoryTests, put

__all__ = ["MaintenanceTests"]

UNSAFE_KEYS = ["../x", "..", ".", "/etc/passwd", "a/b", "a\\b", "a\x00b", "", "x" * 256, "line\nbreak"]


class MaintenanceTests(RepositoryTests):
    """``get_info`` and ``maintain`` report plain data.

    ``get_info`` and ``maintain`` report plain data; a dry run changes nothing; maintenance keeps content;
    ``erase`` empties.
    """

    def test_get_info(self, provstore_repository: AbstractRepositoryBackend) -> None:
        put(provstore_repository, b"info")
        basic, detailed = provstore_repository.get_info(), provstore_repository.get_info(detailed=True)
        assert isinstance(basic, dict) and basic
        assert set(basic) <= set(detailed)
        json.dumps(detailed)  # reports are plain data, printable by the CLI

    @pytest.mark.parametrize("live", [True, False], ids=["live", "offline"])
    def test_maintain_dry_run_changes_nothing(
        self, provstore_repository: AbstractRepositoryBackend, live: bool
    ) -> None:
        keys = [put(provstore_repository, f"maintain {index}".encode()) for index in range(10)]
        before = provstore_repository.get_info(detailed=True)
        report = provstore_repository.maintain(dry_run=True, live=live)
        assert isinstance(report, dict)
        json.dumps(report)
        assert provstore_repository.get_info(detailed=True) == before
        assert sorted(provstore_repository.list_objects()) == sorted(keys)

    @pytest.mark.parametrize("live", [True, False], ids=["live", "offline"])
    def test_maintain_keeps_content(self, provstore_repository: AbstractRepositoryBackend, live: bool) -> None:
        contents = {
            put(provstore_repository, f"kept {index}".encode()): f"kept {index}".encode() for index in range(10)
        }
        provstore_repository.delete_object(put(provstore_repository, b"deleted before maintenance"))
        provstore_repository.maintain(live=live)
        assert {
            key: provstore_repository.get_object_content(key) for key in provstore_repository.list_objects()
        } == contents

    def test_erase(self, provstore_repository: AbstractRepositoryBackend) -> None:
        put(provstore_repository, b"erase me")
        provstore_repository.erase()
        assert not provstore_repository.is_initialised
        provstore_repository.initialise()
        assert provstore_repository.is_initialised
        assert list(provstore_repository.list_objects()) == []
