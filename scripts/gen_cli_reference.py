"""Generate the CLI reference page from the click commands, so it can never drift from the code.

The page is committed as ``docs/cli-reference.md``, so its links work in the repository as on the site;
``python scripts/gen_cli_reference.py docs/cli-reference.md`` rewrites it, and a test fails when it is
stale. It documents the commands of the environment it runs in: the core's, plus any that installed
plugins add through ``provstore_register_commands`` (the built-in ``provstore-aiida`` adds ``storage adopt``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

PAGE = "cli-reference.md"
HEADER = """# CLI reference

Generated from the `provstore` click commands by `python scripts/gen_cli_reference.py docs/cli-reference.md`
(a test checks it is current); the backends listed under `profile setup` are the built-in plugins. For a
task-oriented tour see the [user guide](user-guide.md).
"""


def _sections(command: click.Command, context: click.Context, level: int) -> list[str]:
    """Return the markdown of ``command`` and, recursively, of its subcommands."""
    heading = "#" * min(level, 6)
    parts = [f"{heading} `{context.command_path}`\n", f"```text\n{command.get_help(context)}\n```\n"]
    if isinstance(command, click.Group):
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None and not sub.hidden:
                sub_context = click.Context(sub, info_name=name, parent=context, **sub.context_settings)
                parts.extend(_sections(sub, sub_context, level + 1))
    return parts


def render() -> str:
    """Return the whole CLI reference page as markdown."""
    from provstore.cli import cli

    context = click.Context(
        cli, info_name="provstore", terminal_width=100, max_content_width=100, **cli.context_settings
    )
    return "\n".join([HEADER, *_sections(cli, context, 2)])


if __name__ == "__main__":
    text = render()
    if len(sys.argv) > 1:
        Path(sys.argv[1]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
