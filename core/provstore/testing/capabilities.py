"""Capabilities: what a backend under test declares it can do, and the markers that make tests depend on them.

A capability is a ``bool`` class attribute of the author's test class (``persistent = False``), in the style of
SQLAlchemy's requirements and fsspec's abstract tests: tests are chosen by what the backend declares, never by
its name. :func:`requires` and :func:`unless` mark a test (or a whole class) as needing a capability to be
declared true or false; the kit's fixtures module skips it with the reason otherwise.
"""

from __future__ import annotations

import pytest

__all__ = ["MARKER", "check_capabilities", "requires", "unless"]

MARKER = "provstore_requires"
"""Name of the marker carrying the capabilities a test needs (``absent=`` those it needs declared False)."""


def requires(*capabilities: str) -> pytest.MarkDecorator:
    """Mark a conformance test as needing every named capability declared true by the test class."""
    return getattr(pytest.mark, MARKER)(*capabilities)


def unless(*capabilities: str) -> pytest.MarkDecorator:
    """Mark a conformance test as needing every named capability declared false (e.g. ``unless("read_only")``)."""
    return getattr(pytest.mark, MARKER)(absent=capabilities)


def check_capabilities(item: pytest.Item) -> None:
    """Skip ``item`` when its class does not declare what its markers ask; fail on an unknown capability name."""
    owner = getattr(item, "cls", None)
    for marker in item.iter_markers(MARKER):
        wanted = [(name, True) for name in marker.args] + [(name, False) for name in marker.kwargs.get("absent", ())]
        unknown = [name for name, _ in wanted if not isinstance(getattr(owner, name, None), bool)]
        if unknown:
            pytest.fail(f"{item.nodeid}: unknown capability {', '.join(unknown)} (not a bool class attribute)")
        lacking = [name for name, value in wanted if value and getattr(owner, name) is not True]
        declared = [name for name, value in wanted if not value and getattr(owner, name) is not False]
        if lacking or declared:
            backend = getattr(owner, "backend", "?")
            reasons = [f"does not declare {', '.join(lacking)}"] if lacking else []
            reasons += [f"declares {', '.join(declared)}"] if declared else []
            pytest.skip(f"backend {backend} {' and '.join(reasons)}")
