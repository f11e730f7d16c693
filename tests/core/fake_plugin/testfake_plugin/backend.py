"""A storage backend that only manages a marker file: enough to test profiles, setup and the CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Literal

from provstore.exceptions import StorageMigrationError, UnreachableStorage
from provstore.storage import StorageBackend
from pydantic import BaseModel, Field, SecretStr

HEAD = "2"


def _not_supported(*_args: Any, **_kwargs: Any) -> Any:
    raise NotImplementedError("the test storage holds no graph")


class FakeStorage(StorageBackend):
    """Test storage: a folder with a ``state.json`` file holding the schema version."""

    class Configuration(BaseModel):
        """Settings of the test storage."""

        folder: Path = Field(description="Folder of the storage.")
        port: int = Field(default=5432, description="A port, to test integer options.")
        password: SecretStr | None = Field(default=None, description="A secret, to test masking.")
        mode: Literal["fast", "safe"] = Field(default="safe", description="A choice.")
        engine_kwargs: dict[str, Any] = Field(default_factory=dict, description="A JSON option.")

    class SetupOptions(BaseModel):
        """Extra options of ``profile setup`` that are not stored in the profile."""

        admin_password: SecretStr | None = Field(default=None, description="Admin secret used only during setup.")

    @staticmethod
    def _state(profile: Any) -> Path:
        return Path(profile.storage_config["folder"]) / "state.json"

    can_delete_storage = True

    @classmethod
    def setup_storage(cls, profile: Any, options: Any) -> dict[str, bool]:
        """Record that setup ran and whether an admin secret was given (never the secret itself)."""
        folder = Path(profile.storage_config["folder"])
        folder.mkdir(parents=True, exist_ok=True)
        given = options is not None and options.admin_password is not None
        (folder / "setup.json").write_text(json.dumps({"admin_password_given": given}))
        return {"folder": True}

    @classmethod
    def delete_storage(cls, profile: Any, *, repository: Any = None) -> None:
        """Remove the storage folder."""
        shutil.rmtree(profile.storage_config["folder"], ignore_errors=True)

    @classmethod
    def version_head(cls) -> str:
        return HEAD

    @classmethod
    def version_profile(cls, profile: Any) -> str | None:
        state = cls._state(profile)
        return json.loads(state.read_text())["version"] if state.exists() else None

    @classmethod
    def initialise(cls, profile: Any, reset: bool = False, *, repository: Any = None) -> bool:
        if cls.version_profile(profile) is not None and not reset:
            return False
        cls._state(profile).parent.mkdir(parents=True, exist_ok=True)
        cls._state(profile).write_text(json.dumps({"version": HEAD}))
        return True

    @classmethod
    def migrate(cls, profile: Any) -> None:
        if cls.version_profile(profile) is None:
            raise StorageMigrationError("the storage is not initialised")
        cls._state(profile).write_text(json.dumps({"version": HEAD}))

    def __init__(self, profile: Any, repository: Any = None) -> None:
        super().__init__(profile, repository)
        if self.version_profile(profile) is None:
            raise UnreachableStorage(f"no test storage at {profile.storage_config['folder']}")
        self._closed = False

    def close(self) -> None:
        self._closed = True

    @property
    def is_closed(self) -> bool:
        return self._closed

    def get_info(self, detailed: bool = False) -> dict[str, Any]:
        info: dict[str, Any] = {"entities": {"nodes": 0}}
        if detailed:
            info["folder"] = str(self.profile.storage_config["folder"])
        return info

    def maintain(self, full: bool = False, dry_run: bool = False, **kwargs: Any) -> dict[str, Any]:
        return {"full": full, "dry_run": dry_run}

    authinfos = comments = computers = groups = logs = nodes = users = property(_not_supported)
    in_transaction = property(_not_supported)
    query = transaction = bulk_insert = bulk_update = delete_nodes_and_connections = _not_supported
    get_global_variable = set_global_variable = iter_global_variables = get_repository = _clear = _not_supported


class HiddenStorage(FakeStorage):
    """Test storage that ``profile setup`` must not offer."""

    cli_exposed = False
