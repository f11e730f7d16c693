"""Hostile and malformed input: each is refused with one clear error line, and stored data does not change.

The storage-level inputs run on every SQL backend (sqlite_temp takes the bulk of the generated
corpus, being the fastest); configuration inputs go through the Python API, and a few through the CLI.
Every input tried is counted in the figures printed at the end of the session.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from provstore.config import Config, Profile
from provstore.config.config_file import CONFIG_FILENAME
from provstore.exceptions import ConfigurationError, IntegrityError, ProvstoreError, ValidationError
from provstore.plugins import resolve_storage_class
from provstore.storage import EntityTypes
from provstore.testing.profiles import make_profile

from reliability import hostile
from reliability.checks import storage_dump
from reliability.figures import record


def examples(count: int) -> settings:
    """Return hypothesis settings for ``count`` examples in a test that also uses pytest fixtures."""
    return settings(max_examples=count, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


ALL_BACKENDS = [
    pytest.param("core.sqlite_temp", id="sqlite_temp"),
    pytest.param("core.sqlite_dos", id="sqlite_dos"),
    pytest.param("core.psql_dos", id="psql_dos", marks=pytest.mark.postgres),
]
EXAMPLES = {"core.sqlite_temp": 150, "core.sqlite_dos": 40, "core.psql_dos": 40}
"""Generated examples per backend: the in-memory backend takes the bulk."""


def refused(error: type[Exception] | tuple[type[Exception], ...], action: Any, *args: Any, **kwargs: Any) -> Exception:
    """Call ``action``; assert it raises ``error`` with a one-line message; count the input; return the error."""
    record("hostile inputs tried")
    with pytest.raises(error) as raised:
        action(*args, **kwargs)
    message = str(raised.value)
    assert message and "\n" not in message and "Traceback" not in message, message
    return raised.value


@pytest.fixture(params=ALL_BACKENDS)
def graph(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """Yield an open storage holding a small valid graph (nodes of each kind, a link, a file, a group)."""
    backend = request.param
    extra = request.getfixturevalue("pg_database") if backend == "core.psql_dos" else {}
    profile = make_profile(backend, tmp_path, **extra)
    resolve_storage_class(profile).initialise(profile)
    storage = resolve_storage_class(profile)(profile)
    data = storage.nodes.create(node_type="data.core.Dict.", label="data", attributes={"a": 1})
    data.put_object_from_bytes(b"content", "dir/file.txt")
    data.store()
    calc = storage.nodes.create(node_type="process.calculation.job.", label="calc").store()
    work = storage.nodes.create(node_type="process.workflow.work.", label="work").store()
    calc.add_incoming(data, "input_calc", "x")
    storage.groups.create(label="group").store().add_nodes([data])
    storage.nodes_by_label = {node.label: node for node in (data, calc, work)}
    yield storage
    storage.close()


# ------------------------------------------------------------------------------------- JSON values
def test_unstorable_attribute_and_extra_values(graph):
    """NaN, bytes, sets, too deep nesting, non-string keys ...: ValidationError, nothing written."""
    before = storage_dump(graph)
    nodes = graph.nodes_by_label
    group = graph.groups.get(label="group")

    @examples(EXAMPLES[graph.profile.storage_backend])
    @given(value=hostile.unstorable_values, key=st.from_regex(r"[a-z]{1,8}", fullmatch=True))
    def attempt(value: Any, key: str) -> None:
        refused(ValidationError, graph.nodes.create, node_type="data.x.", attributes={key: value})
        refused(ValidationError, nodes["calc"].set_attribute, key, value)
        refused(ValidationError, nodes["calc"].set_attribute_many, {"fine": 1, key: value})
        refused(ValidationError, nodes["data"].set_extra, key, value)
        refused(ValidationError, group.set_extra, key, value)
        refused(ValidationError, graph.set_global_variable, key, value)

    attempt()
    assert storage_dump(graph) == before


# ------------------------------------------------------------------------------------------- links
def test_link_rule_violations(graph):
    """Every combination of kinds and types a rule forbids, bad labels, self links, duplicates, cycles."""
    nodes = graph.nodes_by_label
    data, calc, work = nodes["data"], nodes["calc"], nodes["work"]
    made = graph.nodes.create(node_type="data.core.Int.", label="made").store()
    made.add_incoming(calc, "create", "out")
    before = storage_dump(graph)
    allowed = {
        ("data", "calc", "input_calc"),
        ("data", "work", "input_work"),
        ("calc", "data", "create"),
        ("work", "data", "return"),
        ("work", "calc", "call_calc"),
        ("work", "work", "call_work"),
    }
    kinds = {"data": made, "calc": calc, "work": work}
    for source_name, source in kinds.items():
        for target_name, target in kinds.items():
            for link_type in ("input_calc", "input_work", "create", "return", "call_calc", "call_work"):
                if (source_name, target_name, link_type) not in allowed or source is target:
                    refused(ValidationError, target.add_incoming, source, link_type, "label")
    for label in [*hostile.SQL_LOOKALIKES, "", "1abc", "a b", "a.b", "x" * 256, None, 5]:
        refused(ValidationError, calc.add_incoming, data, "input_calc", label)
    for link_type in ["INPUT_CALC", "unknown", "input_calc'; --", None]:
        refused(ValidationError, calc.add_incoming, data, link_type, "y")
    refused(ValidationError, calc.add_incoming, data, "input_calc", "x")  # the same link twice
    refused(ValidationError, data.add_incoming, calc, "create", "out2")  # would close a cycle data -> calc -> data
    refused(ValidationError, made.add_incoming, calc, "create", "out")  # a second incoming create
    unstored = graph.nodes.create(node_type="data.core.Int.")
    refused(ValidationError, calc.add_incoming, unstored, "input_calc", "z")
    refused(ValidationError, calc.add_incoming, "not a node", "input_calc", "z")
    assert storage_dump(graph) == before


# ------------------------------------------------------------------------------- files and keys
def test_hostile_file_paths_and_repository_keys(graph):
    """Paths with '..', absolute paths, NUL bytes and friends never reach the file system."""
    nodes = graph.nodes_by_label
    calc = nodes["calc"]
    repository = graph.get_repository()
    before = storage_dump(graph)
    for path in hostile.HOSTILE_PATHS:
        refused(ValidationError, calc.put_object_from_bytes, b"x", path)
        refused(ValidationError, nodes["data"].get_object_content, path)
        refused(ValidationError, calc.delete_object, path)
        refused(ValidationError, graph.nodes.create(node_type="data.x.").put_object_from_bytes, b"x", path)
    for key in hostile.HOSTILE_KEYS:
        refused(ValidationError, repository.get_object_content, key)
        refused(ValidationError, repository.has_object, key)
        refused(ValidationError, repository.delete_object, key)
        refused(ValidationError, lambda key=key: repository.open(key).__enter__())
    assert storage_dump(graph) == before


def test_stored_tree_with_escaping_key_cannot_read_outside(graph, tmp_path):
    """A file tree written straight into the database with a key like '../x' still reads nothing outside."""
    secret = tmp_path / "outside.txt"
    secret.write_text("outside the repository")
    tree = {"o": {"evil": {"k": "../../outside.txt"}, "abs": {"k": str(secret)}}}
    row = {"uuid": str(uuid.uuid4()), "node_type": "data.x.", "user_id": graph.default_user.pk}
    (pk,) = graph.bulk_insert(EntityTypes.NODE, [{**row, "repository_metadata": tree}], allow_defaults=True)
    node = graph.nodes.get(pk)
    for name in ("evil", "abs"):
        refused(ValidationError, node.get_object_content, name)


# ---------------------------------------------------------------------------------- SQL look-alikes
def test_filter_values_and_keys_that_look_like_sql(graph):
    """Values are bound parameters (they match nothing); keys that are not plain names are refused."""
    weird = {text: text for text in hostile.SQL_LOOKALIKES}
    graph.nodes.create(node_type="data.core.Dict.", label="weird", attributes={"k": weird}).store()
    before = storage_dump(graph)
    for text in hostile.SQL_LOOKALIKES:
        for filters in (
            {"label": text},
            {"label": {"like": text}},
            {"label": {"in": [text, "x"]}},
            {"attributes.a": text},
            {"attributes.a": {"contains": [text]}},
            {"uuid": text},
        ):
            record("hostile inputs tried")
            qb = graph.query()
            qb.append("node", filters=filters, project="label")
            assert qb.all() == []
        for field in (f"attributes.{text}", f"extras.{text}", text):
            qb = graph.query()
            refused(ValidationError, qb.append, "node", filters={field: 1})
            refused(ValidationError, graph.query().append, "node", project=[field])
        refused((ValidationError, TypeError), graph.query().append, "node", filters={"id": text})
    qb = graph.query()
    qb.append("node", filters={"label": "weird"}, project="attributes.k")
    assert qb.one()[0] == weird  # the text was stored and read back as plain data
    assert storage_dump(graph) == before


# ------------------------------------------------------------------------------- configuration
def _profile_entries(folder: Path) -> st.SearchStrategy[Any]:
    """Profile entries broken in one way: backend name, a field's type, a missing or unknown field, the shape."""
    bases = {
        "core.sqlite_dos": {"filepath": str(folder / "absent")},
        "core.sqlite_temp": {"debug": False},
        "core.psql_dos": {
            "database_hostname": "127.0.0.1",
            "database_port": 1,
            "database_username": "nobody",
            "database_name": "nothing",
            "repository_uri": str(folder / "repository"),
        },
    }
    names = st.sampled_from([*bases, "core.nope", "", "CORE.SQLITE_DOS", "core.sqlite_dos ", "sqlite_dos"]) | st.text(
        max_size=12
    )

    def broken_config(backend: str, draw: Any) -> Any:
        config = dict(bases.get(backend, bases["core.sqlite_dos"]))
        how = draw(st.sampled_from(["wrong type", "missing", "unknown", "not a dict", "as is"]))
        field = draw(st.sampled_from(sorted(config)))
        if how == "wrong type":
            wrong = st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=3), st.none(), max_size=2)
            config[field] = draw(wrong | st.none() | st.floats(allow_nan=True) | st.booleans())
        elif how == "missing":
            del config[field]
        elif how == "unknown":
            config["x_" + draw(st.text(max_size=6))] = draw(hostile.json_values)
        elif how == "not a dict":
            return draw(hostile.json_values.filter(lambda value: not isinstance(value, dict)))
        return config

    @st.composite
    def entries(draw: Any) -> Any:
        backend = draw(names)
        entry: dict[str, Any] = {"storage": {"backend": backend, "config": broken_config(backend, draw)}}
        shape = draw(st.sampled_from(["fine", "storage", "repository", "email", "options", "whole"]))
        if shape == "storage":
            entry["storage"] = draw(hostile.json_values)
        elif shape == "repository":
            entry["repository"] = draw(hostile.json_values | st.just({"backend": "core.nope", "config": {}}))
        elif shape == "email":
            entry["default_user_email"] = draw(hostile.json_values)
        elif shape == "options":
            entry["options"] = draw(hostile.json_values)
        elif shape == "whole":
            return draw(hostile.json_values)
        return entry

    return entries()


def _open_profile(name: Any, entry: Any) -> None:
    """Build and open the profile, as a command would; close it if it opened."""
    profile = Profile(name, entry)
    storage = resolve_storage_class(profile)(profile)
    storage.close()


@examples(300)
@given(data=st.data())
def test_broken_profile_entries(data, tmp_path):
    """A broken profile entry fails to open with one ProvstoreError line (never another exception)."""
    entry = data.draw(_profile_entries(tmp_path))
    name = data.draw(st.sampled_from(["p", "", " ", None, 3]) | st.text(max_size=8))
    record("hostile inputs tried")
    try:
        _open_profile(name, entry)
    except ProvstoreError as exc:
        assert str(exc) and "\n" not in str(exc), str(exc)
    else:  # only an in-memory storage can open without any file or server
        assert entry["storage"]["backend"] == "core.sqlite_temp"
    assert not (tmp_path / "absent").exists() and not (tmp_path / "repository").exists()


config_documents = (
    st.text(max_size=60)
    | st.binary(max_size=40).map(lambda raw: raw.decode("latin-1"))
    | hostile.json_values.map(json.dumps)
    | st.fixed_dictionaries(
        {"version": hostile.json_values | st.sampled_from([1, 2, 0, -1, True])},
        optional={"default_profile": hostile.json_values, "profiles": hostile.json_values, "extra": st.none()},
    ).map(json.dumps)
)
"""Configuration file texts: garbage, any JSON, or the right keys with wrong contents."""


@examples(200)
@given(text=config_documents)
def test_broken_configuration_files(text, isolated_config_dir):
    """Loading a broken file gives one ConfigurationError line; the file is never rewritten."""
    path = isolated_config_dir / CONFIG_FILENAME
    raw = text.encode("utf-8", "surrogatepass")  # lone surrogates make an undecodable file: another broken case
    path.write_bytes(raw)
    record("hostile inputs tried")
    try:
        config = Config.load(isolated_config_dir)
    except ConfigurationError as exc:
        assert "\n" not in str(exc), str(exc)
    else:
        for name in config.profile_names:
            try:
                _open_profile(name, config.get_profile(name).dictionary)
            except ProvstoreError as exc:
                assert "\n" not in str(exc), str(exc)
    assert path.read_bytes() == raw


CLI_CONFIGS = {
    "not json": "{ this is not json",
    "newer format": json.dumps({"version": 99, "profiles": {}}),
    "profiles not a mapping": json.dumps({"version": 1, "profiles": ["a"]}),
    "unknown backend": json.dumps(
        {"version": 1, "default_profile": "p", "profiles": {"p": {"storage": {"backend": "core.nope", "config": {}}}}}
    ),
    "wrong field type": json.dumps(
        {
            "version": 1,
            "default_profile": "p",
            "profiles": {"p": {"storage": {"backend": "core.sqlite_dos", "config": {"filepath": ["x"]}}}},
        }
    ),
}


@pytest.mark.parametrize("case", list(CLI_CONFIGS))
def test_cli_on_broken_configuration(case, isolated_config_dir):
    """The CLI answers a broken configuration with one error line and exit code 1, and leaves the file alone."""
    path = isolated_config_dir / CONFIG_FILENAME
    path.write_text(CLI_CONFIGS[case], encoding="utf-8")
    path.chmod(0o600)  # a readable file adds its own warning line (tested in test_secrets)
    before = path.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "provstore", "storage", "info"], capture_output=True, text=True, timeout=120
    )
    record("hostile inputs tried")
    record("processes started")
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    assert path.read_bytes() == before


def test_repository_put_refuses_non_streams(graph):
    """Objects that are not readable byte streams are a TypeError or ValidationError, not a stored object."""
    repository = graph.get_repository()
    before = sorted(repository.list_objects())
    for handle in ("text", b"raw bytes", io.StringIO("text stream"), None, 5):
        refused((ValidationError, TypeError), repository.put_object_from_filelike, handle)
    assert sorted(repository.list_objects()) == before


def test_malformed_bulk_rows(graph):
    """Rows with unknown, missing or wrongly typed columns or unstorable JSON: one error, no row written."""
    user = graph.default_user.pk
    good = {"uuid": str(uuid.uuid4()), "node_type": "data.x.", "user_id": user}
    before = storage_dump(graph)
    bad_rows = [
        {**good, "no_such_column": 1},
        {**good, "id": 10**6},
        {"uuid": str(uuid.uuid4())},
        {**good, "user_id": "'; DROP TABLE db_dbnode; --"},
        {**good, "user_id": 10**9},
        {**good, "attributes": {"x": float("nan")}},
        {**good, "attributes": {"x": b"bytes"}},
        {**good, "ctime": "not a time"},
        "not a row",
    ]
    for bad in bad_rows:
        rows = [dict(good, uuid=str(uuid.uuid4())), bad]  # a good row first: it must not stay either
        refused((IntegrityError, ValidationError), graph.bulk_insert, EntityTypes.NODE, rows, allow_defaults=True)
    assert storage_dump(graph) == before


def test_generated_queries(graph):
    """Any filter, projection and entity name either runs or is refused with one ProvstoreError line."""
    before = storage_dump(graph)

    @examples(2 * EXAMPLES[graph.profile.storage_backend])
    @given(entity=hostile.query_entities, filters=hostile.query_filters, project=hostile.query_projections)
    def attempt(entity: str, filters: dict[str, Any], project: Any) -> None:
        record("hostile inputs tried")
        try:
            qb = graph.query()
            qb.append(entity, filters=filters, project=project)
            qb.all()
            qb.count()
        except ProvstoreError as exc:
            assert str(exc) and "\n" not in str(exc), str(exc)

    attempt()
    assert storage_dump(graph) == before
