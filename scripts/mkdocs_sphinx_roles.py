"""MkDocs hook: render the Sphinx cross-reference roles of our docstrings (``:class:`~a.B```) as code.

The docstrings follow the Sphinx convention, which mkdocstrings parses for parameters but leaves roles as
text; this turns ``:role:<code>target</code>`` into ``<code>target</code>`` (``~`` keeps the last name).
"""

from __future__ import annotations

import re
from typing import Any

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|data|attr|exc|obj):<code>(~?)([^<]+)</code>")


def _code(match: re.Match[str]) -> str:
    """Return the target of one role as inline code, shortened to its last name when marked with ``~``."""
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html: str, **kwargs: Any) -> str:
    """Replace the roles left in a rendered page."""
    return _ROLE.sub(_code, html)
