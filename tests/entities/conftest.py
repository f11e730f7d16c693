"""Fixtures of the entity tests: a fresh storage per test, on each SQL backend available."""

from __future__ import annotations

import pytest
from provstore.config import Profile
from provstore.plugins import get_plugin_manager

EMAIL = "tester@example.org"


@pytest.fixture(params=["core.sqlite_temp", "core.sqlite_dos"])
def storage(request, tmp_path):
    """Yield an open, empty storage whose default user is ``tester@example.org``."""
    cls = get_plugin_manager().get_storage_backend(request.param)
    if request.param == "core.sqlite_temp":
        profile = cls.create_profile(default_user_email=EMAIL)
    else:
        config = {"filepath": str(tmp_path / "store")}
        profile = Profile(
            "test", {"storage": {"backend": request.param, "config": config}, "default_user_email": EMAIL}
        )
        cls.initialise(profile)
    backend = cls(profile)
    yield backend
    backend.close()
