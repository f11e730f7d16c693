"""The virtual file tree of a node: ``repository_metadata`` maps relative paths to repository keys.

Format (JSON): a directory is ``{"o": {name: entry, ...}}`` (``{}`` when empty), a file is
``{"k": key}``. The root is a directory. These functions never modify their input: each
returns a new tree, so a failed operation leaves the node's metadata unchanged.
"""

from __future__ import annotations

import copy
import pathlib
from collections.abc import Iterator
from typing import Any

from provstore.exceptions import ValidationError

__all__ = [
    "check_can_put_file",
    "get_entry",
    "validate_path",
    "validate_repository_metadata",
    "walk",
    "with_file",
    "without_entry",
]

FilePath = str | pathlib.PurePath


def validate_path(path: FilePath) -> tuple[str, ...]:
    """Return the parts of a relative file path, or raise ValidationError.

    Paths use ``/`` as separator, are relative, and have no empty, ``.`` or ``..`` parts,
    no backslashes and no control characters.
    """
    if isinstance(path, pathlib.PurePath):
        path = path.as_posix()
    if not isinstance(path, str):
        raise ValidationError(f"file path must be a string, got {type(path).__name__}")
    if not path:
        raise ValidationError("file path must not be empty")
    if path.startswith("/"):
        raise ValidationError(f"file path {path!r} must be relative")
    parts = tuple(path.split("/"))
    for part in parts:
        if part in ("", ".", ".."):
            raise ValidationError(f"file path {path!r} must not contain empty, '.' or '..' parts")
        if "\\" in part or any(ord(char) < 32 or ord(char) == 127 for char in part):
            raise ValidationError(f"file path {path!r} must not contain backslashes or control characters")
    return parts


def validate_repository_metadata(tree: object) -> dict[str, Any]:
    """Return a deep copy of ``tree`` if it is a valid virtual file tree, else raise ValidationError."""
    if not isinstance(tree, dict):
        raise ValidationError(f"repository_metadata must be a dict, got {type(tree).__name__}")
    _check_directory(tree, "")
    return copy.deepcopy(tree)


def _check_directory(entry: dict[str, Any], where: str) -> None:
    if set(entry) - {"o"}:
        raise ValidationError(f"repository_metadata at {where or '/'!r}: a directory may only have the key 'o'")
    objects = entry.get("o", {})
    if not isinstance(objects, dict):
        raise ValidationError(f"repository_metadata at {where or '/'!r}: 'o' must be a dict")
    for name, child in objects.items():
        path = f"{where}/{name}" if where else name
        if not isinstance(name, str) or len(validate_path(name)) != 1:
            raise ValidationError(f"repository_metadata: invalid file name {name!r}")
        if not isinstance(child, dict):
            raise ValidationError(f"repository_metadata at {path!r}: entries must be dicts")
        if "k" in child:
            if set(child) != {"k"} or not isinstance(child["k"], str) or not child["k"]:
                raise ValidationError(f"repository_metadata at {path!r}: a file is exactly {{'k': key}}")
        else:
            _check_directory(child, path)


def get_entry(tree: dict[str, Any], parts: tuple[str, ...]) -> dict[str, Any]:
    """Return the entry at ``parts`` (the root for no parts).

    :raises FileNotFoundError: nothing exists at that path.
    :raises NotADirectoryError: a parent of the path is a file.
    """
    entry = tree
    for index, part in enumerate(parts):
        if "k" in entry:
            raise NotADirectoryError(f"'{'/'.join(parts[:index])}' is a file, not a directory")
        try:
            entry = entry.get("o", {})[part]
        except KeyError:
            raise FileNotFoundError(f"no file or directory '{'/'.join(parts)}'") from None
    return entry


def with_file(tree: dict[str, Any], parts: tuple[str, ...], key: str) -> dict[str, Any]:
    """Return a new tree in which ``parts`` is a file with ``key``, creating parent directories.

    :raises IsADirectoryError: the path is an existing directory.
    :raises NotADirectoryError: a parent of the path is a file.
    """
    check_can_put_file(tree, parts)
    tree = copy.deepcopy(tree)
    directory = tree
    for part in parts[:-1]:
        directory = directory.setdefault("o", {}).setdefault(part, {})
    directory.setdefault("o", {})[parts[-1]] = {"k": key}
    return tree


def check_can_put_file(tree: dict[str, Any], parts: tuple[str, ...]) -> None:
    """Raise if a file cannot be written at ``parts`` (see :func:`with_file`)."""
    entry = tree
    for index, part in enumerate(parts):
        if "k" in entry:
            raise NotADirectoryError(f"'{'/'.join(parts[:index])}' is a file, not a directory")
        entry = entry.get("o", {}).get(part)
        if entry is None:
            return
    if "k" not in entry:
        raise IsADirectoryError(f"'{'/'.join(parts)}' is a directory")


def without_entry(tree: dict[str, Any], parts: tuple[str, ...]) -> dict[str, Any]:
    """Return a new tree without the file or directory (with its content) at ``parts``.

    :raises FileNotFoundError: nothing exists at that path.
    """
    get_entry(tree, parts)
    tree = copy.deepcopy(tree)
    parent = get_entry(tree, parts[:-1])
    del parent["o"][parts[-1]]
    if not parent["o"]:
        del parent["o"]
    return tree


def walk(
    tree: dict[str, Any], parts: tuple[str, ...] = ()
) -> Iterator[tuple[pathlib.PurePosixPath, list[str], list[str]]]:
    """Yield ``(dirpath, dirnames, filenames)`` top-down like :func:`os.walk`, names sorted.

    :raises FileNotFoundError: nothing exists at ``parts``.
    :raises NotADirectoryError: ``parts`` is a file.
    """
    entry = get_entry(tree, parts)
    if "k" in entry:
        raise NotADirectoryError(f"'{'/'.join(parts)}' is a file, not a directory")
    objects = entry.get("o", {})
    dirnames = sorted(name for name, child in objects.items() if "k" not in child)
    filenames = sorted(name for name, child in objects.items() if "k" in child)
    yield pathlib.PurePosixPath(*parts), dirnames, filenames
    for name in dirnames:
        yield from walk(tree, (*parts, name))
