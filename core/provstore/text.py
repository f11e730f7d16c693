"""Wording shared by messages and command output: nouns in the number their count asks for."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """Return the count with its noun in the right number: ``1 group``, ``2 groups``, ``1,000 entries``."""
    word = singular if count == 1 else (plural_form if plural_form is not None else singular + "s")
    return f"{count:,} {word}"
