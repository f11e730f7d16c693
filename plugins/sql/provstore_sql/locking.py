"""Profile locks: every open backend holds a shared lock, full maintenance and migration need an exclusive one.

A backend chooses its lock through :meth:`SqlDialect.profile_lock`: SQLite files use
:class:`FileProfileLock` (``flock`` on a file beside the database), PostgreSQL uses advisory locks,
private in-memory stores use :class:`NullProfileLock`.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path

from provstore.exceptions import LockedProfileError

__all__ = ["FileProfileLock", "NullProfileLock", "ProfileLock"]

_LOGGER = logging.getLogger(__name__)


class ProfileLock(ABC):
    """A reader/writer lock on one profile's storage, shared between processes."""

    def __init__(self, profile_name: str) -> None:
        self.profile_name = profile_name

    @abstractmethod
    def acquire_shared(self) -> None:
        """Take the shared lock held while a backend is open.

        :raises LockedProfileError: another process holds the exclusive lock.
        """

    @abstractmethod
    def exclusive(self) -> contextlib.AbstractContextManager[None]:
        """Hold the exclusive lock for the block (upgrading our own shared lock if we hold one).

        :raises LockedProfileError: another process holds the lock (shared or exclusive).
        """

    @abstractmethod
    def release(self) -> None:
        """Release whatever this object holds; safe to call twice."""

    def reacquire_after_fork(self) -> None:  # noqa: B027 - optional hook, a no-op for locks nothing can inherit
        """In a forked child: stop sharing the parent's lock and hold one of our own (default: nothing to do)."""

    def _locked_error(self, action: str) -> LockedProfileError:
        return LockedProfileError(
            f"profile {self.profile_name!r} is in use by another process: cannot {action}; "
            "stop the processes using it and try again"
        )


class NullProfileLock(ProfileLock):
    """The lock of a storage no other process can reach (in-memory): always granted."""

    def acquire_shared(self) -> None:
        """Do nothing: nobody else can use the storage."""

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Grant exclusive use immediately."""
        yield

    def release(self) -> None:
        """Do nothing."""


class FileProfileLock(ProfileLock):
    """A lock implemented with ``flock`` on a file; released by the kernel if the process dies."""

    def __init__(self, profile_name: str, path: str | os.PathLike[str]) -> None:
        super().__init__(profile_name)
        self.path = Path(path)
        self._fd: int | None = None
        self._shared = False

    def _open(self) -> int:
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                if not self.path.exists():
                    raise
                self._fd = os.open(self.path, os.O_RDONLY)  # read-only file system or file: flock works alike
        return self._fd

    def acquire_shared(self) -> None:
        """Take a shared lock without waiting.

        :raises LockedProfileError: another process holds the exclusive lock (full maintenance, migration).
        """
        try:
            fcntl.flock(self._open(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            self.release()
            raise self._locked_error("open it while it is being maintained or migrated") from None
        self._shared = True

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold an exclusive lock for the block, then return to the previous state."""
        fd = self._open()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            # a failed conversion may drop the shared lock we held: take it back
            self._restore()
            raise self._locked_error("get exclusive access") from None
        try:
            yield
        finally:
            self._restore()

    def _restore(self) -> None:
        if self._shared:
            fcntl.flock(self._fd, fcntl.LOCK_SH)  # type: ignore[arg-type]
        else:
            self.release()

    def reacquire_after_fork(self) -> None:
        """In a forked child: let go of the parent's descriptor (its lock stays) and take our own shared lock."""
        was_shared = self._shared
        if self._fd is not None:
            os.close(self._fd)  # the parent still holds the same open file, so its lock is untouched
        self._fd = None
        self._shared = False
        if was_shared:
            try:
                self.acquire_shared()
            except LockedProfileError as exc:
                _LOGGER.warning("forked process could not take the profile lock of %r: %s", self.profile_name, exc)

    def release(self) -> None:
        """Drop the lock and close the file descriptor."""
        if self._fd is not None:
            os.close(self._fd)  # closing the last descriptor releases the flock
            self._fd = None
        self._shared = False

    def __del__(self) -> None:
        # a backend dropped without close() must not keep the profile locked until the process exits
        self.release()
