"""What the commands print: JSON alone on stdout, sizes and counts for people, no Python reprs, progress on a tty."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from provstore import open_storage
from provstore.cli.output import format_size, plural
from provstore.cli.root import cli

REPR = re.compile(r"\{\}|\[\]|\[['\"]|\bNone\b|\bTrue\b|\bFalse\b")
"""Python reprs that must not reach people: empty dicts and lists, list literals, None and booleans."""


@pytest.fixture
def presto(run):
    """A default profile ``presto`` on core.sqlite_dos holding three loose objects."""
    assert run("presto").exit_code == 0
    with open_storage() as storage:
        repository = storage.get_repository()
        for number in range(3):
            repository.put_object_from_filelike(io.BytesIO(b"object %d" % number))
    return "presto"


def test_format_size_and_plural() -> None:
    assert [format_size(size) for size in (0, 1023, 204800, 4 * 1024**3, None)] == [
        "0 B",
        "1023 B",
        "200.0 KiB",
        "4.0 GiB",
        "-",
    ]
    assert [plural(count, "group") for count in (0, 1, 2, 1000)] == ["0 groups", "1 group", "2 groups", "1,000 groups"]
    assert plural(1, "entry", "entries") == "1 entry" and plural(3, "entry", "entries") == "3 entries"


def test_mappings_print_sizes_with_units_and_no_reprs(capsys) -> None:
    from provstore.cli.output import echo_mapping

    echo_mapping(
        {
            "size": 204800,
            "batch_size": 1000,
            "multipart_threshold": 8 * 1024**2,
            "size_bytes": {"loose": 2048, "packed": 0},
            "done": ["optimize", "vacuum"],
            "skipped": {},
            "ratio": None,
            "compress": False,
        }
    )
    assert capsys.readouterr().out.splitlines() == [
        "size: 200.0 KiB",
        "batch_size: 1000",
        "multipart_threshold: 8.0 MiB",
        "size_bytes:",
        "  loose: 2.0 KiB",
        "  packed: 0 B",
        "done: optimize, vacuum",
        "skipped: none",
        "ratio: -",
        "compress: no",
    ]


def test_every_reporting_command_prints_json_alone_on_stdout(run, presto, tmp_path) -> None:
    archive = str(tmp_path / "a.zip")
    assert run("presto", "--profile-name", "other").exit_code == 0
    assert run("presto", "--profile-name", "third").exit_code == 0
    commands = {
        "profile list": ["profile", "list", "--json"],
        "storage info": ["-p", "presto", "storage", "info", "--json"],
        "storage version": ["-p", "presto", "storage", "version", "--json"],
        "storage maintain": ["-p", "presto", "storage", "maintain", "--json"],
        "storage maintain --full": ["-p", "presto", "storage", "maintain", "--full", "--dry-run", "--json"],
        "archive create": ["-p", "presto", "archive", "create", archive, "--json"],
        "archive inspect": ["archive", "inspect", archive, "--json"],
        "archive import": ["-p", "other", "archive", "import", archive, "--json"],
        "storage transfer": ["storage", "transfer", "--from", "presto", "--to", "third", "--merge", "--json"],
    }
    printed = {}
    for what, args in commands.items():
        result = run(*args)
        assert result.exit_code == 0, (what, result.output)
        printed[what] = json.loads(result.stdout)  # nothing but the JSON document on stdout
    listed = {entry["name"]: (entry["storage_backend"], entry["default"]) for entry in printed["profile list"]}
    assert listed == {
        "presto": ("core.sqlite_dos", False),
        "other": ("core.sqlite_dos", False),
        "third": ("core.sqlite_dos", True),  # presto makes each new profile the default
    }
    info = printed["storage info"]
    assert (info["profile"], info["storage_backend"]) == ("presto", "core.sqlite_dos")
    assert isinstance(info["database"]["size"], int) and isinstance(info["repository"]["pack_size_target"], int)
    assert printed["storage version"]["profile"] == "presto" and printed["storage version"]["up_to_date"] is True
    packed = printed["storage maintain"]["report"]["repository"]["operations"]["pack_loose"]
    assert (packed["objects"], packed["bytes"], packed["done"]) == (3, 24, True)  # bytes, not "24 B"
    assert printed["storage maintain --full"]["dry_run"] is True
    assert printed["archive create"]["objects"]["source"] == 3
    assert isinstance(printed["archive inspect"]["file_size"], int)
    assert printed["archive import"]["objects"]["copied"] == 3
    assert printed["storage transfer"]["bytes_copied"] == 24


def test_storage_info_and_archive_inspect_show_human_sizes(run, presto, tmp_path) -> None:
    info = run("storage", "info").stdout.splitlines()
    assert "  pack_size_target: 4.0 GiB" in info
    assert any(re.fullmatch(r"  size: \d+\.\d KiB", line) for line in info), info
    assert not REPR.search("\n".join(info)), info
    assert (
        run("archive", "create", str(tmp_path / "a.zip")).stdout
        == f"Created archive {tmp_path / 'a.zip'}: 0 nodes, 3 objects.\n"
    )
    inspected = run("archive", "inspect", str(tmp_path / "a.zip")).stdout.splitlines()
    assert any(re.fullmatch(r"file_size: \d+\.\d KiB", line) for line in inspected), inspected
    assert any(re.fullmatch(r"uncompressed_size: \d+\.\d KiB", line) for line in inspected), inspected


@pytest.mark.parametrize("options", [[], ["--dry-run"], ["--full"], ["--full", "--dry-run"]])
def test_maintain_report_shows_no_python_reprs(run, presto, options) -> None:
    result = run("storage", "maintain", *options)
    assert result.exit_code == 0, result.output
    assert not REPR.search(result.stdout), result.stdout


def test_maintain_reports_only_work_it_did(run, presto) -> None:
    first = run("storage", "maintain").stdout
    assert "pack_loose:" in first and "bytes: 24 B" in first and "done: yes" in first
    again = run("storage", "maintain").stdout
    assert "pack_loose: nothing to pack" in again
    assert "done: yes" not in again.split("database:")[0], again  # the repository did nothing this time
    full = run("storage", "maintain", "--full").stdout
    assert "unreferenced_objects:\n    count: 3\n    deleted: yes" in full
    assert "count: 0\n    deleted: no" in run("storage", "maintain", "--full").stdout


def _maintain_with_stderr_on_a_terminal(provstore_script_path: str) -> tuple[subprocess.CompletedProcess, bytes]:
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            [provstore_script_path, "storage", "maintain"], stdout=subprocess.PIPE, stderr=terminal, timeout=120
        )
        os.close(terminal)
        drawn = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal's other end is closed and everything was read
                break
            if not chunk:
                break
            drawn += chunk
        return done, drawn
    finally:
        os.close(controller)


def test_maintain_draws_progress_on_a_terminal_only(presto, provstore_script) -> None:
    script = shutil.which("provstore") or str(Path(sys.executable).parent / "provstore")
    done, drawn = _maintain_with_stderr_on_a_terminal(script)
    assert done.returncode == 0
    assert re.search(rb"packing loose objects \[#+\] 3/3", drawn), drawn
    assert b"[" not in done.stdout  # the bar is on stderr, never in the report
    with open_storage() as storage:
        storage.get_repository().put_object_from_filelike(io.BytesIO(b"one more"))
    piped = provstore_script("storage", "maintain")
    assert piped.returncode == 0 and piped.stderr == "", piped.stderr


def test_version_behind_names_the_command_with_the_profile(run, presto, monkeypatch) -> None:
    from provstore_sql.migrator import SqlMigrator

    current = SqlMigrator.version_head()
    monkeypatch.setattr(SqlMigrator, "version_head", classmethod(lambda cls: "f00dfeedbeef"))
    monkeypatch.setattr(SqlMigrator, "versions", classmethod(lambda cls: [current, "f00dfeedbeef"]))
    fix = "provstore -p presto storage migrate"
    assert f"run '{fix}'" in run("storage", "version").stdout
    assert json.loads(run("storage", "version", "--json").stdout)["up_to_date"] is False
    opened = run("storage", "info")
    assert opened.exit_code == 1 and f"run `{fix}`" in opened.stderr, opened.stderr


def _help_texts(command: click.Command, context: click.Context):
    """Yield the path and ``--help`` text of ``command`` and of every command under it, hidden ones included."""
    yield context.command_path, command.get_help(context)
    if isinstance(command, click.Group):
        for name in command.list_commands(context):
            sub = command.get_command(context, name)
            if sub is not None:
                yield from _help_texts(sub, click.Context(sub, info_name=name, parent=context, **sub.context_settings))


RST = re.compile(r"``|:[a-z]+:`|`[^`\n]+`_\b|^\.\. [a-z]+::", re.MULTILINE)
"""RST literals, roles (``:class:`...```), links and directives: markup a terminal shows as is."""


def test_no_help_text_holds_rst_markup() -> None:
    texts = dict(_help_texts(cli, click.Context(cli, info_name="provstore", **cli.context_settings)))
    assert "provstore profile setup core.sqlite_dos" in texts  # the tree includes the generated setup commands
    leaks = {path: RST.findall(text) for path, text in texts.items() if RST.search(text)}
    assert not leaks, leaks


def _store_with_group(name: str, storage: dict, label: str = "shared") -> None:
    """Save profile ``name`` on ``storage``, initialised, holding a user and a group ``label``."""
    from provstore.config import Config, Profile
    from provstore.plugins import resolve_storage_class
    from provstore.storage import EntityTypes

    profile = Profile(name, {"storage": storage})
    resolve_storage_class(profile).initialise(profile)
    with Config.edit() as config:
        config.add_profile(profile)
    with open_storage(profile) as backend:
        users = backend.bulk_insert(EntityTypes.USER, [{"email": f"{name}@example.org"}], allow_defaults=True)
        backend.bulk_insert(EntityTypes.GROUP, [{"label": label, "user_id": users[0]}], allow_defaults=True)


def _sqlite(tmp_path: Path, name: str) -> dict:
    return {"backend": "core.sqlite_dos", "config": {"filepath": str(tmp_path / name)}}


def _import_clash(run, tmp_path: Path, target: dict) -> None:
    _store_with_group("source", _sqlite(tmp_path, "source"))
    _store_with_group("target", target)
    archive = str(tmp_path / "source.zip")
    assert run("-p", "source", "archive", "create", archive).exit_code == 0
    for args in (
        ["-p", "target", "archive", "import", archive],
        ["storage", "transfer", "--from", "source", "--to", "target", "--merge"],
    ):
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith("Error: group label 'shared' of type 'core' is taken in the target"), (
            result.stderr
        )
        assert "rename or delete one of the two groups" in result.stderr
        assert "constraint" not in result.stderr.lower() and "COPY" not in result.stderr
    with open_storage("target") as backend:
        assert backend.get_info()["entities"]["groups"] == 1  # nothing of the archive was written


def test_import_clashing_on_a_group_label_says_so_in_one_line_sqlite(run, tmp_path) -> None:
    _import_clash(run, tmp_path, _sqlite(tmp_path, "target"))


@pytest.mark.postgres
def test_import_clashing_on_a_group_label_says_so_in_one_line_postgres(run, tmp_path, pg_database) -> None:
    config = {**pg_database, "repository_uri": str(tmp_path / "target-files")}
    _import_clash(run, tmp_path, {"backend": "core.psql_dos", "config": config})


def test_transfer_of_an_unreadable_value_is_one_line(run, tmp_path) -> None:
    import sqlite3

    _store_with_group("source", _sqlite(tmp_path, "source"))
    _store_with_group("target", _sqlite(tmp_path, "target"), label="other")
    database = sqlite3.connect(tmp_path / "source" / "database.sqlite")  # SQLite keeps a value of any type
    database.execute("UPDATE db_dbgroup SET time = 'yesterday'")
    database.commit()
    database.close()
    result = run("storage", "transfer", "--from", "source", "--to", "target", "--merge")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: the storage of profile 'source' holds a value that cannot be read "
        "(Invalid isoformat string: 'yesterday'): fix or delete that row\n"
    )


def test_transfer_clashing_on_a_computer_label_says_so_in_one_line(run, tmp_path) -> None:
    from provstore.storage import EntityTypes

    _store_with_group("source", _sqlite(tmp_path, "source"))
    _store_with_group("target", _sqlite(tmp_path, "target"), label="other")
    for name in ("source", "target"):
        with open_storage(name) as backend:
            backend.bulk_insert(EntityTypes.COMPUTER, [{"label": "cluster"}], allow_defaults=True)
    result = run("storage", "transfer", "--from", "source", "--to", "target", "--merge")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: computer label 'cluster' is taken in the target by another computer")
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_counts_in_messages_agree_with_their_nouns(run, tmp_path) -> None:
    _store_with_group("source", _sqlite(tmp_path, "source"))
    _store_with_group("target", _sqlite(tmp_path, "target"), label="other")
    result = run("storage", "transfer", "--from", "source", "--to", "target")
    assert result.exit_code == 1
    assert "already holds data of another origin (1 group); use --merge" in result.stderr, result.stderr


def test_transfer_summary_shows_the_bytes_copied_for_people() -> None:
    from provstore.transfer.report import TransferReport

    lines = TransferReport(source="a", target="b", mode="fresh", bytes_copied=10_348_889).summary_lines()
    assert "  copied: 9.9 MiB (10,348,889 bytes)" in lines
