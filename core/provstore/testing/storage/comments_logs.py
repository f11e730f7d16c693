"""Comments and logs attached to nodes: fields, timestamps, validation, and their fate with their node."""

from __future__ import annotations

import datetime

import pytest

from provstore.exceptions import ValidationError
from provstore.storage import StorageBackend
from provstore.testing.storage.base import DATA, StorageTests, stored_field, writes

__all__ = ["CommentLogTests"]


@writes
class CommentLogTests(StorageTests):
    """Comments and logs belong to a node and read back as stored.

    Checks: a comment's content, node and user (the default user) round-trip and editing it moves ``mtime``
    but not ``ctime``; a log keeps logger, level, message, metadata, node and a UTC time, and refuses a level
    name over 50 characters or a missing logger; both need a stored node and are counted per collection.
    """

    def test_comment_fields_and_mtime(self, provstore_storage: StorageBackend) -> None:
        node = provstore_storage.nodes.create(node_type=DATA).store()
        comment = provstore_storage.comments.create(node=node, content="first").store()
        ctime = stored_field(provstore_storage, "comment", comment.pk, "ctime")
        mtime = stored_field(provstore_storage, "comment", comment.pk, "mtime")
        comment.content = "second"
        assert stored_field(provstore_storage, "comment", comment.pk, "content") == "second"
        assert stored_field(provstore_storage, "comment", comment.pk, "ctime") == ctime
        assert stored_field(provstore_storage, "comment", comment.pk, "mtime") > mtime
        fresh = provstore_storage.comments.get(comment.pk)
        assert fresh.node == node
        assert fresh.user.email == provstore_storage.profile.default_user_email

    def test_comments_of_several_users(self, provstore_storage: StorageBackend) -> None:
        node = provstore_storage.nodes.create(node_type=DATA).store()
        other = provstore_storage.users.create(email="reviewer@x").store()
        provstore_storage.comments.create(node=node, content="mine").store()
        provstore_storage.comments.create(node=node, content="theirs", user=other).store()
        assert provstore_storage.comments.count() == 2
        by_user = provstore_storage.query().append("user", filters={"email": "reviewer@x"})
        assert by_user.append("comment", with_user="user", project="content").all(flat=True) == ["theirs"]

    def test_log_fields(self, provstore_storage: StorageBackend) -> None:
        node = provstore_storage.nodes.create(node_type=DATA).store()
        moment = datetime.datetime(2024, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)
        log = provstore_storage.logs.create(
            node=node, loggername="engine", levelname="WARNING", message="careful", metadata={"line": 3}, time=moment
        ).store()
        fresh = provstore_storage.logs.get(log.pk)
        assert (fresh.loggername, fresh.levelname, fresh.message, fresh.metadata) == (
            "engine",
            "WARNING",
            "careful",
            {"line": 3},
        )
        assert fresh.node == node
        assert stored_field(provstore_storage, "log", log.pk, "time") == moment
        assert stored_field(provstore_storage, "log", log.pk, "metadata.line") == 3

    def test_log_validation(self, provstore_storage: StorageBackend) -> None:
        node = provstore_storage.nodes.create(node_type=DATA).store()
        log = provstore_storage.logs.create(node=node, loggername="l", levelname="INFO").store()
        with pytest.raises(ValidationError, match="50"):
            log.levelname = "x" * 51
        assert stored_field(provstore_storage, "log", log.pk, "levelname") == "INFO"
        with pytest.raises(ValidationError, match="loggername"):
            provstore_storage.logs.create(node=node, levelname="INFO")

    def test_node_field_is_immutable(self, provstore_storage: StorageBackend) -> None:
        from provstore.exceptions import IntegrityError

        first, second = (provstore_storage.nodes.create(node_type=DATA).store() for _ in range(2))
        comment = provstore_storage.comments.create(node=first, content="c").store()
        with pytest.raises(IntegrityError):
            comment.node = second
        assert provstore_storage.comments.get(comment.pk).node == first
