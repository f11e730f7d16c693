"""``LocalPath``: the type of a backend configuration field that names a local file or folder."""

from __future__ import annotations

import os
from typing import Annotated

import pydantic

__all__ = ["LocalPath", "absolute_path"]


def absolute_path(value: str) -> str:
    """Return ``value`` with ``~`` expanded, made absolute against the current directory and normalised.

    A profile saved with a relative path would work only from the directory it was made in.
    """
    return os.path.abspath(os.path.expanduser(value))


LocalPath = Annotated[str, pydantic.AfterValidator(absolute_path)]
"""A local path in a backend's ``Configuration``: validated (and so saved by ``profile setup``) as an absolute path."""
