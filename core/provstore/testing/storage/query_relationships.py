"""Joins between entities in queries: links with type and label filters, groups, users, computers, comments, logs."""

from __future__ import annotations

from provstore.storage import StorageBackend
from provstore.testing.dataset import GROUPS, LINKS, NODES, Dataset
from provstore.testing.storage.base import StorageTests

__all__ = ["QueryRelationshipTests"]


def _pairs(rows, data):
    reverse = {pk: name for name, pk in data.nodes.items()}
    return sorted((reverse[a], reverse[b]) for a, b in rows)


class QueryRelationshipTests(StorageTests):
    """Every documented relationship joins the right rows of the kit's data set.

    Checks: ``with_incoming``/``with_outgoing`` follow links in both directions, ``link_filters`` select by
    type and label and ``link_project`` returns them (under ``"<in>--<out>"`` in ``dict()`` rows); chains of
    relationships project a field from each entity; ``with_group``, ``with_user``, ``with_computer``,
    ``with_comment``, ``with_log``, ``with_node``, ``with_authinfo`` join as documented.
    """

    def test_links_in_both_directions_with_type_and_label_filters(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """with_incoming/with_outgoing follow links; link_filters select by type and label; link_project gives them."""
        storage, data = provstore_dataset_storage, provstore_dataset
        query = storage.query().append("node", tag="src", project="id")
        query.append("node", tag="dst", with_incoming="src", project="id")
        assert _pairs(query.all(), data) == sorted((a, b) for a, b, _, _ in LINKS)
        query = storage.query().append("node", tag="dst", project="id")
        query.append("node", tag="src", with_outgoing="dst", project="id", link_filters={"type": "create"})
        assert _pairs([(b, a) for a, b in query.all()], data) == sorted(
            (a, b) for a, b, kind, _ in LINKS if kind == "create"
        )
        query = storage.query().append("node", tag="calc", filters={"node_type": {"of_type": "process.calculation"}})
        query.append(
            "node",
            tag="out",
            with_incoming="calc",
            link_filters={"type": {"in": ["create", "return"]}, "label": {"like": "res%"}},
            link_project=["label", "type"],
            project="label",
        )
        rows = query.dict()
        assert sorted(row["out"]["label"] for row in rows) == ["Alpha", "beta"]
        assert all(row["calc--out"] == {"label": "result", "type": "create"} for row in rows)

    def test_chained_relationships_and_projections_from_every_entity(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """A chain node → outgoing node → its group → the group's user projects a field from each entity."""
        storage = provstore_dataset_storage
        query = storage.query().append("node", tag="data", filters={"attributes.x": 3}, project="label")
        query.append("node", tag="calc", with_incoming="data", project=["label", "attributes.matrix.1"])
        query.append("computer", with_node="calc", project="label")
        query.append("user", with_node="calc", project="email")
        assert query.all() == [("alpha", "gamma", [3], "daint", "ada@example.org")]

    def test_groups_users_comments_logs_and_authinfos(
        self, provstore_dataset_storage: StorageBackend, provstore_dataset: Dataset
    ) -> None:
        """Every non-link relationship joins the right rows."""
        storage, data = provstore_dataset_storage, provstore_dataset
        members = (
            storage.query().append("group", filters={"label": "g1"}).append("node", with_group="group", project="id")
        )
        assert data.names(members.all(flat=True)) == sorted(GROUPS["g1"])
        groups = storage.query().append("node", filters={"id": data.nodes["n2"]})
        groups.append("group", with_node="node", project="label")
        assert sorted(groups.all(flat=True)) == ["g1", "g2"]
        empty = storage.query().append("group", filters={"label": "empty"}).append("node", with_group="group")
        assert empty.count() == 0
        owned = storage.query().append("user", filters={"email": "ada@example.org"})
        assert owned.append("group", with_user="user", project="label").count() == 3
        bob_nodes = storage.query().append("user", filters={"email": {"like": "bob%"}})
        bob_nodes.append("node", with_user="user", project="id")
        expected = sorted(name for index, name in enumerate(NODES) if index % 3 == 0)
        assert data.names(bob_nodes.all(flat=True)) == expected
        on_daint = (
            storage.query().append("computer", filters={"label": "daint"}).append("node", with_computer="computer")
        )
        assert on_daint.count() == 2
        comments = storage.query().append("node", filters={"id": data.nodes["n0"]})
        comments.append("comment", with_node="node", project="content").append(
            "user", with_comment="comment", project="email"
        )
        assert sorted(comments.all()) == [("fixed", "ada@example.org"), ("looks wrong", "bob@example.org")]
        commented = storage.query().append("comment", filters={"content": "fixed"})
        assert commented.append("node", with_comment="comment", project="label").all(flat=True) == ["alpha"]
        errors = storage.query().append("log", filters={"levelname": "ERROR"}, project="message")
        errors.append("node", with_log="log", project="label")
        assert errors.all() == [("boom", "gamma")]
        logs = (
            storage.query()
            .append("node", filters={"label": "gamma"})
            .append("log", with_node="node", project="levelname")
        )
        assert sorted(logs.all(flat=True)) == ["ERROR", "INFO"]
        auth = storage.query().append("authinfo", filters={"auth_params.port": 22}, project="enabled")
        auth.append("computer", with_authinfo="authinfo", project="label")
        auth.append("user", with_authinfo="authinfo", project="email")
        assert auth.all() == [(True, "daint", "ada@example.org")]
        via_user = storage.query().append("user", filters={"email": "ada@example.org"})
        via_user.append("authinfo", with_user="user").append(
            "computer", with_authinfo="authinfo", project="metadata.cores"
        )
        assert via_user.all(flat=True) == [12]
        via_computer = storage.query().append("computer", filters={"metadata": {"has_key": "cores"}})
        assert via_computer.append("authinfo", with_computer="computer").count() == 1
        assert storage.query().append("user").append("comment", with_user="user").count() == 3
