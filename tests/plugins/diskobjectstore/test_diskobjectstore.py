"""Behaviour specific to ``core.diskobjectstore``: concurrency, packing while reading, maintenance and info."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from disk_objectstore import Container
from provstore.exceptions import ConfigurationError, CorruptStorage, UnreachableStorage, ValidationError
from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend
from provstore_sandbox.backend import SandboxRepositoryBackend

# A writer process: waits for the start signal, then stores objects shared by all writers and its own ones,
# with single writes or batches, and prints the keys it got back.
WRITER = r"""
import hashlib, io, json, os, sys, time
from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend
config, worker, count, mode, go = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
repository = DiskObjectStoreRepositoryBackend.from_config(config)
contents = []
for index in range(count):
    contents.append(f"shared {index} ".encode() * 40)
    contents.append(f"worker {worker} object {index} ".encode() * 40)
while not os.path.exists(go):
    time.sleep(0.005)
if mode == "batch":
    keys = []
    for start in range(0, len(contents), 25):
        keys += repository.put_objects_from_filelikes([io.BytesIO(c) for c in contents[start : start + 25]])
else:
    keys = [repository.put_object_from_filelike(io.BytesIO(c)) for c in contents]
assert keys == [hashlib.sha256(c).hexdigest() for c in contents], "keys are not the sha256 of the content"
assert all(repository.has_objects(keys)), "an object just written is missing"
print(json.dumps(keys))
"""

# A packer process: packs loose objects (the operation allowed while the repository is in use) a few
# times and prints when it started and stopped.
PACKER = r"""
import json, os, sys, time
from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend
config, rounds, go = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
repository = DiskObjectStoreRepositoryBackend.from_config(config)
while not os.path.exists(go):
    time.sleep(0.005)
start = time.time()
for _ in range(rounds):
    repository.maintain(live=True)
print(json.dumps([start, time.time()]))
"""


def _spawn(script: str, *args: str) -> subprocess.Popen[str]:
    """Start ``script`` in a new Python process with ``args``."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _finish(process: subprocess.Popen[str]) -> Any:
    """Wait for ``process``, fail with its stderr if it failed, and return the JSON it printed."""
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr
    return json.loads(stdout)


def _assert_intact(repository: DiskObjectStoreRepositoryBackend, expected: set[str]) -> None:
    """Check that exactly the ``expected`` objects exist and that each content hashes to its key."""
    assert set(repository.list_objects()) == expected
    for key, stream in repository.iter_object_streams(sorted(expected)):
        assert hashlib.sha256(stream.read()).hexdigest() == key
    assert repository.container.validate().is_valid()


@pytest.fixture
def config(tmp_path: Path) -> dict[str, Any]:
    """Return the configuration of a fresh container under ``tmp_path`` (with small packs, to cross pack files)."""
    return {"filepath": str(tmp_path / "container"), "pack_size_target": 64 * 1024}


@pytest.fixture
def repository(config: dict[str, Any]) -> Iterator[DiskObjectStoreRepositoryBackend]:
    """Return an initialised, empty repository built from :func:`config`."""
    repository = DiskObjectStoreRepositoryBackend.from_config(config)
    repository.initialise()
    yield repository
    repository.close()


@pytest.mark.slow
def test_concurrent_writers_and_packer(repository, config, tmp_path: Path) -> None:
    """Six processes write the same and different objects at once (singly and in batches) while one packs."""
    count, go = 60, str(tmp_path / "go")
    writers = [
        _spawn(WRITER, json.dumps(config), str(worker), str(count), mode, go)
        for worker, mode in enumerate(["single", "batch"] * 3)
    ]
    packer = _spawn(PACKER, json.dumps(config), "3", go)
    time.sleep(0.5)  # let the interpreters start, then release them together
    Path(go).touch()
    keys = [key for writer in writers for key in _finish(writer)]
    _finish(packer)

    expected = {hashlib.sha256(f"shared {index} ".encode() * 40).hexdigest() for index in range(count)}
    expected |= {
        hashlib.sha256(f"worker {w} object {i} ".encode() * 40).hexdigest() for w in range(6) for i in range(count)
    }
    assert set(keys) == expected
    _assert_intact(repository, expected)
    repository.maintain(live=False)  # pack, repack, clean: the duplicates written concurrently must collapse
    _assert_intact(repository, expected)
    info = repository.get_info(detailed=True)
    assert info["objects"] == {"loose": 0, "packed": len(expected)}
    assert info["pack_statistics"]["unreferenced_bytes"] == 0


@pytest.mark.slow
def test_reading_while_packing(repository, config, tmp_path: Path) -> None:
    """Objects stay readable, with the right content, while another process packs them."""
    contents = {}
    for index in range(1500):
        content = f"object {index} ".encode() * 200
        contents[repository.put_object_from_filelike(io.BytesIO(content))] = content
    go = str(tmp_path / "go")
    packer = _spawn(PACKER, json.dumps(config), "1", go)
    time.sleep(0.5)
    Path(go).touch()
    read_times = []
    while packer.poll() is None:
        for key in list(contents)[::7]:
            assert repository.get_object_content(key) == contents[key]
            read_times.append(time.time())
        assert {key: stream.read() for key, stream in repository.iter_object_streams(list(contents))} == contents
    start, stop = _finish(packer)
    assert any(start <= moment <= stop for moment in read_times), "no read overlapped the packing"
    assert repository.get_info()["objects"]["packed"] == len(contents)
    assert {key: repository.get_object_content(key) for key in contents} == contents


def test_single_and_batch_keys_equal_sandbox_sha256_keys(repository, tmp_path: Path) -> None:
    sandbox = SandboxRepositoryBackend(filepath=tmp_path, key_format="sha256")
    contents = [b"", b"a", b"\x00" * 100_000]
    sandbox_keys = [sandbox.put_object_from_filelike(io.BytesIO(content)) for content in contents]
    assert [repository.put_object_from_filelike(io.BytesIO(content)) for content in contents] == sandbox_keys
    assert repository.put_objects_from_filelikes([io.BytesIO(content) for content in contents]) == sandbox_keys


def test_single_writes_are_loose_objects_disk_objectstore_reads(repository, config) -> None:
    contents = [b"", b"small", bytes(range(256)) * 5000]
    keys = [repository.put_object_from_filelike(io.BytesIO(content)) for content in contents]
    with Container(config["filepath"]) as container:
        assert container.count_objects().loose == 3
        assert [container.get_object_content(key) for key in keys] == contents
        assert container.validate().is_valid()
        assert os.listdir(container.get_folder() / "sandbox") == []  # no partial file left behind


def test_batch_writes_go_straight_into_packs(repository) -> None:
    keys = repository.put_objects_from_filelikes([io.BytesIO(b"%d" % index * 1000) for index in range(200)])
    info = repository.get_info()
    assert info["objects"] == {"loose": 0, "packed": 200}
    assert info["packs"] > 1  # 200 kB with 64 kB packs: the batch moved on to new pack files
    assert len(set(keys)) == 200


def test_live_maintenance_refuses_unsafe_operations(repository) -> None:
    for option in ("do_repack", "clean_storage", "do_vacuum"):
        with pytest.raises(ValidationError, match="live=False"):
            repository.maintain(live=True, **{option: True})


def test_maintain_dry_run_reports_without_doing(repository) -> None:
    for index in range(5):
        repository.put_object_from_filelike(io.BytesIO(b"loose %d" % index))
    report = repository.maintain(dry_run=True, live=True)
    assert report["operations"] == {"pack_loose": {"objects": 5, "bytes": 35, "compress": False, "done": False}}
    assert set(report["skipped"]) == {"repack", "clean_storage", "vacuum"}
    assert all("live" in reason for reason in report["skipped"].values())
    assert repository.get_info()["objects"] == {"loose": 5, "packed": 0}


def test_maintain_live_packs_and_offline_cleans(repository) -> None:
    keys = [repository.put_object_from_filelike(io.BytesIO(b"loose %d" % index)) for index in range(5)]
    report = repository.maintain(live=True)
    assert report["operations"]["pack_loose"]["done"]
    assert repository.get_info()["objects"] == {"loose": 5, "packed": 5}  # loose copies go only when offline
    report = repository.maintain(live=False)
    assert set(report["operations"]) == {"clean_storage"}  # packed already, and packs without waste
    assert set(report["skipped"]) == {"pack_loose", "repack"}
    assert report["operations"]["clean_storage"] == {"vacuum": True, "done": True}
    assert repository.get_info()["objects"] == {"loose": 0, "packed": 5}
    assert [repository.get_object_content(key) for key in keys] == [b"loose %d" % index for index in range(5)]


def test_repack_reclaims_deleted_space(repository) -> None:
    keys = repository.put_objects_from_filelikes([io.BytesIO(b"%04d" % index * 256) for index in range(20)])
    repository.delete_objects(keys[:10])
    before = repository.get_info(detailed=True)
    assert before["pack_statistics"]["unreferenced_bytes"] == 10 * 1024
    report = repository.maintain(live=False, pack_loose=False, clean_storage=False)
    assert report["operations"]["repack"]["reclaimable_bytes"] == 10 * 1024
    after = repository.get_info(detailed=True)
    assert after["pack_statistics"]["unreferenced_bytes"] == 0
    assert after["size_bytes"]["packfiles_on_disk"] == 10 * 1024
    assert repository.has_objects(keys) == [False] * 10 + [True] * 10


def test_compression_shrinks_packed_objects(tmp_path: Path) -> None:
    repository = DiskObjectStoreRepositoryBackend(filepath=tmp_path / "c", compression=True)
    repository.initialise()
    content = b"very compressible " * 10_000
    key = repository.put_object_from_filelike(io.BytesIO(content))
    assert repository.maintain(live=True)["operations"]["pack_loose"]["compress"] is True
    sizes = repository.get_info(detailed=True)["size_bytes"]
    assert sizes["packed"] == len(content) and sizes["packed_on_disk"] < len(content) / 10
    assert repository.get_object_content(key) == content
    batch_key = repository.put_objects_from_filelikes([io.BytesIO(content + b"!")])[0]
    assert repository.get_object_content(batch_key) == content + b"!"


def test_info_and_identity_persist_across_instances(repository, config) -> None:
    key = repository.put_object_from_filelike(io.BytesIO(b"persistent"))
    info = repository.get_info()
    assert info["uuid"] == repository.uuid and info["hash_type"] == "sha256"
    assert info["pack_size_target"] == 64 * 1024
    reopened = DiskObjectStoreRepositoryBackend.from_config(config)
    assert reopened.uuid == repository.uuid
    assert reopened.get_object_content(key) == b"persistent"


def test_initialise_clear_starts_a_new_container(repository) -> None:
    old_uuid = repository.uuid
    repository.put_object_from_filelike(io.BytesIO(b"old"))
    repository.initialise(clear=True)
    assert repository.uuid != old_uuid
    assert list(repository.list_objects()) == []


def test_initialise_rejects_bad_settings(tmp_path: Path) -> None:
    repository = DiskObjectStoreRepositoryBackend(filepath=tmp_path / "c")
    with pytest.raises(ValidationError, match="hash_type"):
        repository.initialise(hash_type="md5")
    with pytest.raises(ValidationError, match="pack_size_target"):
        repository.initialise(pack_size_target=0)
    assert not repository.is_initialised


def test_initialise_refuses_a_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "thesis.tex").write_text("precious")
    with pytest.raises(ConfigurationError, match="not empty"):
        DiskObjectStoreRepositoryBackend(filepath=tmp_path / "c").initialise()
    assert (tmp_path / "c" / "thesis.tex").read_text() == "precious"


def test_initialise_on_a_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_bytes(b"")
    with pytest.raises(UnreachableStorage, match="cannot create a disk-objectstore container"):
        DiskObjectStoreRepositoryBackend(filepath=tmp_path / "file").initialise()


def test_uninitialised_container_is_a_clear_error(tmp_path: Path) -> None:
    repository = DiskObjectStoreRepositoryBackend(filepath=tmp_path / "missing")
    assert repository.uuid is None
    key = hashlib.sha256(b"x").hexdigest()
    with pytest.raises(UnreachableStorage, match="not initialised"):
        repository.has_object(key)
    with pytest.raises(UnreachableStorage, match="not initialised"):
        repository.put_object_from_filelike(io.BytesIO(b"x"))
    with pytest.raises(UnreachableStorage, match="not initialised"):
        repository.put_objects_from_filelikes([io.BytesIO(b"x")])


def test_configuration_requires_filepath() -> None:
    with pytest.raises(ConfigurationError, match="filepath"):
        DiskObjectStoreRepositoryBackend.from_config({})


# A process that opens a repository and reads its identity, then reports which heavy modules it loaded.
IDENTITY = r"""
import json, sys
from provstore_diskobjectstore.backend import DiskObjectStoreRepositoryBackend
repository = DiskObjectStoreRepositoryBackend.from_config(json.loads(sys.argv[1]))
identity = [repository.is_initialised, repository.uuid, repository.key_format]
repository.close()
loaded = sorted({m.split(".")[0] + (".orm" if m.startswith("sqlalchemy.orm") else "") for m in sys.modules})
print(json.dumps([identity, [m for m in loaded if m in ("disk_objectstore", "sqlalchemy.orm")]]))
"""


def test_identity_is_read_without_importing_disk_objectstore(repository, config) -> None:
    """uuid, is_initialised and key_format come from config.json: disk-objectstore (and its ORM) stay unloaded."""
    identity, loaded = _finish(_spawn(IDENTITY, json.dumps(config)))
    assert identity == [True, repository.uuid, "sha256"]
    assert repository.uuid == Container(config["filepath"]).container_id  # the id disk-objectstore itself reports
    assert loaded == []


def test_missing_config_or_subfolder_means_not_initialised(repository, config) -> None:
    folder = Path(config["filepath"])
    (folder / "sandbox").rmdir()
    assert not repository.is_initialised and repository.uuid is None
    (folder / "sandbox").mkdir()
    (folder / "config.json").write_text("{not json")
    assert not repository.is_initialised and repository.uuid is None
    with pytest.raises(UnreachableStorage, match="not initialised"):
        repository.has_object(hashlib.sha256(b"x").hexdigest())
    (folder / "config.json").unlink()
    assert not repository.is_initialised and repository.uuid is None


@pytest.mark.parametrize("content", ["[]", '{"hash_type": "sha256"}', '{"container_id": 7}'])
def test_config_without_container_id_is_corrupt(repository, config, content: str) -> None:
    (Path(config["filepath"]) / "config.json").write_text(content)
    assert repository.is_initialised  # disk-objectstore counts any JSON as a configuration
    for attempt in (lambda: repository.uuid, lambda: repository.has_object(hashlib.sha256(b"x").hexdigest())):
        with pytest.raises(CorruptStorage, match=r"invalid config\.json: no container_id") as raised:
            attempt()
        assert "\n" not in str(raised.value)
    repository.initialise(clear=True)  # a reset still replaces it
    assert repository.uuid is not None


def test_other_hash_type_is_refused_on_first_use(repository, config) -> None:
    path = Path(config["filepath"]) / "config.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "hash_type": "sha1"}))
    assert repository.key_format == "sha1"
    with pytest.raises(ConfigurationError, match="uses sha1 keys; provstore needs sha256"):
        repository.put_object_from_filelike(io.BytesIO(b"x"))


def test_erase_forgets_the_container(repository, config) -> None:
    repository.put_object_from_filelike(io.BytesIO(b"before"))
    old_uuid = repository.uuid
    repository.erase()
    assert not Path(config["filepath"]).exists() and repository.uuid is None
    repository.initialise()
    assert repository.uuid not in (None, old_uuid)
    assert list(repository.list_objects()) == []


# The backend module where disk_objectstore cannot be imported: the plugin manager must name the package.
MISSING = r"""
import sys
sys.modules["disk_objectstore"] = None  # makes ``import disk_objectstore`` fail as if it were not installed
from provstore.exceptions import MissingDependency
from provstore.plugins import get_plugin_manager
try:
    get_plugin_manager().get_repository_backend("core.diskobjectstore")
except MissingDependency as exc:
    print(str(exc))
"""


def test_missing_disk_objectstore_is_reported_when_the_backend_loads() -> None:
    done = subprocess.run([sys.executable, "-c", MISSING], capture_output=True, text=True, check=True)
    assert done.stdout.strip().endswith("pip install disk-objectstore"), done.stdout + done.stderr
