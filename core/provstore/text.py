"""Wording shared by messages and command output: nouns in the number their count asks for, sizes for people."""

from __future__ import annotations

__all__ = ["format_size", "plural"]


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """Return the count with its noun in the right number: ``1 group``, ``2 groups``, ``1,000 entries``."""
    word = singular if count == 1 else (plural_form if plural_form is not None else singular + "s")
    return f"{count:,} {word}"


def format_size(size: int | float | None) -> str:
    """Return a byte count for people: ``204800`` -> ``200.0 KiB`` (bytes below 1 KiB, ``-`` for None)."""
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover
