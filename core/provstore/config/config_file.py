"""The configuration directory and the one JSON file that holds every profile.

The file is ``<config dir>/config.json``::

    {"version": 1, "default_profile": "main", "profiles": {"main": {...profile dictionary...}}}

It is written atomically (temporary file in the same folder, fsync, rename) with mode 0600, and a
broken file is reported, never overwritten.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; edits are still atomic, only not serialised
    fcntl = None  # type: ignore[assignment]

from provstore.config.profile import Profile
from provstore.exceptions import ConfigurationError, ProfileNotFound

__all__ = ["CONFIG_DIR_ENV", "CONFIG_FILENAME", "CONFIG_VERSION", "Config", "get_config_dir", "validate_profile_name"]

CONFIG_DIR_ENV = "PROVSTORE_CONFIG_DIR"
CONFIG_FILENAME = "config.json"
LOCK_FILENAME = ".config.lock"
CONFIG_VERSION = 1
"""Version of the file layout this code reads and writes; a file with a higher version is refused."""

_KEYS = {"version", "default_profile", "profiles"}

logger = logging.getLogger("provstore.config")


_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def validate_profile_name(name: str) -> str:
    """Return ``name`` if it can name a new profile (it may become a folder name), else raise ConfigurationError."""
    if not isinstance(name, str) or not _PROFILE_NAME.match(name):
        raise ConfigurationError(
            f"invalid profile name {name!r}: use up to 100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def get_config_dir() -> Path:
    """Return the configuration directory: ``$PROVSTORE_CONFIG_DIR`` if set, else ``~/.provstore``."""
    value = os.environ.get(CONFIG_DIR_ENV)
    return Path(value).expanduser().absolute() if value else Path.home() / ".provstore"


class Config:
    """The profiles of the configuration file, edited in memory and written back with :meth:`save`."""

    def __init__(self, path: Path, profiles: dict[str, Profile] | None = None, default_profile: str | None = None):
        """Hold ``profiles`` for the file at ``path``; use :meth:`load` to read an existing file."""
        self._path = Path(path)
        self._profiles: dict[str, Profile] = dict(profiles or {})
        if default_profile is not None and default_profile not in self._profiles:
            raise ProfileNotFound(self._not_found_message(default_profile))
        self._default = default_profile

    # ------------------------------------------------------------------------- reading
    @classmethod
    def load(cls, directory: Path | None = None) -> Config:
        """Read the configuration of ``directory`` (default :func:`get_config_dir`); empty if it has no file yet.

        :raises ConfigurationError: the file cannot be read, is not valid JSON, has the wrong
            structure or was written by a newer provstore. The message names the file and the problem.
        """
        path = (directory if directory is not None else get_config_dir()) / CONFIG_FILENAME
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read configuration file {path}: {exc}") from exc
        _warn_if_readable_by_others(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"configuration file {path} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                "fix it or move it away, provstore will not overwrite it"
            ) from exc
        return cls._from_data(path, data)

    @classmethod
    def _from_data(cls, path: Path, data: Any) -> Config:
        """Check the structure of the parsed file and build the Config."""

        def broken(problem: str) -> ConfigurationError:
            return ConfigurationError(f"configuration file {path}: {problem}")

        if not isinstance(data, dict):
            raise broken(f"must hold a JSON object, found {type(data).__name__}")
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise broken("has no valid 'version' field (a positive integer)")
        if version > CONFIG_VERSION:
            raise broken(
                f"was written by a newer provstore (format version {version}, this one reads up to "
                f"{CONFIG_VERSION}); upgrade provstore"
            )
        unknown = sorted(set(data) - _KEYS)
        if unknown:
            raise broken(f"unknown key(s) {', '.join(map(repr, unknown))}; expected {', '.join(sorted(_KEYS))}")
        raw_profiles = data.get("profiles", {})
        if not isinstance(raw_profiles, dict):
            raise broken("'profiles' must be an object mapping profile names to profiles")
        default = data.get("default_profile")
        if default is not None and not isinstance(default, str):
            raise broken("'default_profile' must be a profile name or null")
        if default is not None and default not in raw_profiles:
            raise broken(f"'default_profile' names {default!r}, which is not one of the profiles")
        profiles = {}
        for name, attributes in raw_profiles.items():
            try:
                profiles[name] = Profile(name, attributes)
            except ConfigurationError as exc:
                raise broken(str(exc)) from exc
        return cls(path, profiles, default)

    @classmethod
    @contextlib.contextmanager
    def edit(cls, directory: Path | None = None) -> Iterator[Config]:
        """Load the configuration under an exclusive lock, yield it, and save it if the block succeeds.

        Concurrent editors (two ``profile setup`` at once) then wait for each other instead of one
        overwriting the other's change. Readers need no lock: saving replaces the file atomically.
        """
        directory = directory if directory is not None else get_config_dir()
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock = os.open(directory / LOCK_FILENAME, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ConfigurationError(f"cannot lock the configuration in {directory}: {exc}") from exc
        try:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            config = cls.load(directory)
            yield config
            config.save()
        finally:
            os.close(lock)  # closing releases the lock

    # ----------------------------------------------------------------------- accessors
    @property
    def path(self) -> Path:
        """Return the path of the configuration file."""
        return self._path

    @property
    def default_profile_name(self) -> str | None:
        """Return the name of the default profile, or None if there is none."""
        return self._default

    @property
    def profile_names(self) -> list[str]:
        """Return the names of all profiles, sorted."""
        return sorted(self._profiles)

    def get_profile(self, name: str | None = None) -> Profile:
        """Return the profile called ``name``, or the default profile when ``name`` is None.

        :raises ProfileNotFound: no such profile (the message lists the existing ones), or no default.
        """
        if name is None:
            if self._default is None:
                raise ProfileNotFound(
                    "no default profile is set; create one with 'provstore presto' or 'provstore profile setup', "
                    f"or choose one of: {', '.join(self.profile_names) or 'none (no profiles exist)'}"
                )
            name = self._default
        try:
            return self._profiles[name]
        except KeyError:
            raise ProfileNotFound(self._not_found_message(name)) from None

    def _not_found_message(self, name: str) -> str:
        import difflib

        message = f"profile {name!r} does not exist; existing profiles: {', '.join(self.profile_names) or 'none'}"
        close = difflib.get_close_matches(name, self.profile_names, n=1)
        return f"{message}; did you mean {close[0]!r}?" if close else message

    # ------------------------------------------------------------------------ changes
    def add_profile(self, profile: Profile, *, overwrite: bool = False) -> None:
        """Add ``profile`` (or replace the one of that name with ``overwrite``); the first profile becomes default.

        :raises ConfigurationError: the name is invalid, or a profile of that name exists and ``overwrite`` is False.
        """
        validate_profile_name(profile.name)
        if profile.name in self._profiles and not overwrite:
            raise ConfigurationError(f"profile {profile.name!r} already exists")
        self._profiles[profile.name] = profile
        if self._default is None:
            self._default = profile.name

    def remove_profile(self, name: str) -> Profile:
        """Remove and return the profile ``name``; if it was the default, no profile is default afterwards.

        :raises ProfileNotFound: no such profile.
        """
        profile = self.get_profile(name)
        del self._profiles[name]
        if self._default == name:
            self._default = None
        return profile

    def set_default_profile(self, name: str) -> None:
        """Make ``name`` the default profile.

        :raises ProfileNotFound: no such profile.
        """
        self.get_profile(name)
        self._default = name

    # ------------------------------------------------------------------------- writing
    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready form of the file."""
        return {
            "version": CONFIG_VERSION,
            "default_profile": self._default,
            "profiles": {name: self._profiles[name].dictionary for name in self.profile_names},
        }

    def save(self) -> None:
        """Write the file atomically, readable by its owner only; create the directory (mode 0700) if needed.

        :raises ConfigurationError: the file cannot be written (the previous file is left intact).
        """
        try:
            text = json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(f"cannot write configuration file {self._path}: {exc}") from exc
        try:
            self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            _atomic_write(self._path, text)
        except OSError as exc:
            raise ConfigurationError(f"cannot write configuration file {self._path}: {exc}") from exc


def _atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` by a file holding ``text`` in one step: readers see the old or the new file, never half."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable; not possible on every platform
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _warn_if_readable_by_others(path: Path) -> None:
    """Log a one-line warning when the file's mode lets group or others read it (it may hold passwords)."""
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            logger.warning(
                "configuration file %s has mode %s, readable by others; run: chmod 600 %s", path, oct(mode), path
            )
