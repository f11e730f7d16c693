"""The entity kinds a query selects, their fields, and the relationship keywords that join one kind to another.

This is the schema as the query language sees it, with no storage technology in it: every storage
backend answers queries on these kinds and fields (a ``"*"`` projection returns exactly these fields,
in this order).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from enum import Enum

from provstore.exceptions import ValidationError

__all__ = [
    "ENTITIES",
    "LINK",
    "LINK_RELATIONSHIPS",
    "LINK_TYPES",
    "PROVENANCE_LINK_TYPES",
    "RELATIONSHIPS",
    "RELATIONSHIP_KEYWORDS",
    "EntityKind",
    "FieldKind",
    "FieldSpec",
    "entity_kind",
    "related_kind",
]


class FieldKind(str, Enum):
    """The type of a field's values, which decides the operators and operands a filter may use on it."""

    INTEGER = "integer"
    TEXT = "text"
    DATETIME = "datetime"
    BOOLEAN = "boolean"
    JSON = "json"

    @property
    def python_type(self) -> type:
        """Return the Python type of the field's values (``object`` for JSON)."""
        return _PYTHON_TYPES[self]


_PYTHON_TYPES: dict[FieldKind, type] = {
    FieldKind.INTEGER: int,
    FieldKind.TEXT: str,
    FieldKind.DATETIME: datetime.datetime,
    FieldKind.BOOLEAN: bool,
    FieldKind.JSON: object,
}


@dataclass(frozen=True)
class FieldSpec:
    """One field of an entity kind: its name, the kind of its values and whether it may be unset (NULL)."""

    name: str
    kind: FieldKind
    nullable: bool = False

    @property
    def is_json(self) -> bool:
        """Return whether the field holds JSON documents (and so accepts paths)."""
        return self.kind is FieldKind.JSON


@dataclass(frozen=True)
class EntityKind:
    """An entity kind of the query language: its name and its fields, in the order of ``"*"`` rows."""

    name: str
    fields: tuple[FieldSpec, ...]

    def field(self, name: str) -> FieldSpec | None:
        """Return the field called ``name``, or None."""
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        """Return the names of the fields, in order."""
        return tuple(spec.name for spec in self.fields)


def _kind(name: str, *fields: tuple[str, FieldKind] | tuple[str, FieldKind, bool]) -> EntityKind:
    return EntityKind(name, tuple(FieldSpec(*spec) for spec in fields))


_I, _T, _D, _B, _J = FieldKind.INTEGER, FieldKind.TEXT, FieldKind.DATETIME, FieldKind.BOOLEAN, FieldKind.JSON

ENTITIES: dict[str, EntityKind] = {
    kind.name: kind
    for kind in (
        _kind(
            "node",
            ("id", _I),
            ("uuid", _T),
            ("node_type", _T),
            ("process_type", _T, True),
            ("label", _T),
            ("description", _T),
            ("ctime", _D),
            ("mtime", _D),
            ("attributes", _J, True),
            ("extras", _J, True),
            ("repository_metadata", _J),
            ("dbcomputer_id", _I, True),
            ("user_id", _I),
        ),
        _kind("user", ("id", _I), ("email", _T), ("first_name", _T), ("last_name", _T), ("institution", _T)),
        _kind(
            "group",
            ("id", _I),
            ("uuid", _T),
            ("label", _T),
            ("type_string", _T),
            ("time", _D),
            ("description", _T),
            ("extras", _J),
            ("user_id", _I),
        ),
        _kind(
            "computer",
            ("id", _I),
            ("uuid", _T),
            ("label", _T),
            ("hostname", _T),
            ("description", _T),
            ("scheduler_type", _T),
            ("transport_type", _T),
            ("metadata", _J),
        ),
        _kind(
            "comment",
            ("id", _I),
            ("uuid", _T),
            ("dbnode_id", _I),
            ("ctime", _D),
            ("mtime", _D),
            ("user_id", _I),
            ("content", _T),
        ),
        _kind(
            "log",
            ("id", _I),
            ("uuid", _T),
            ("time", _D),
            ("loggername", _T),
            ("levelname", _T),
            ("dbnode_id", _I),
            ("message", _T),
            ("metadata", _J),
        ),
        _kind(
            "authinfo",
            ("id", _I),
            ("aiidauser_id", _I),
            ("dbcomputer_id", _I),
            ("metadata", _J),
            ("auth_params", _J),
            ("enabled", _B),
        ),
    )
}
"""Entity name → kind, in the order error messages list them."""

LINK = _kind("link", ("id", _I), ("input_id", _I), ("output_id", _I), ("label", _T), ("type", _T))
"""The link between two nodes, filtered and projected through ``link_filters`` and ``link_project``."""

RELATIONSHIPS: dict[tuple[str, str], str] = {
    ("node", "with_incoming"): "node",
    ("node", "with_outgoing"): "node",
    ("node", "with_group"): "group",
    ("node", "with_user"): "user",
    ("node", "with_computer"): "computer",
    ("node", "with_comment"): "comment",
    ("node", "with_log"): "log",
    ("group", "with_node"): "node",
    ("group", "with_user"): "user",
    ("user", "with_node"): "node",
    ("user", "with_group"): "group",
    ("user", "with_comment"): "comment",
    ("user", "with_authinfo"): "authinfo",
    ("computer", "with_node"): "node",
    ("computer", "with_authinfo"): "authinfo",
    ("comment", "with_node"): "node",
    ("comment", "with_user"): "user",
    ("log", "with_node"): "node",
    ("authinfo", "with_user"): "user",
    ("authinfo", "with_computer"): "computer",
}
"""(entity, keyword) → the kind of entity whose tag the keyword takes.

``with_incoming=T`` on a node: the nodes that ``T`` links to; ``with_outgoing=T``: the nodes linking to ``T``.
"""

RELATIONSHIP_KEYWORDS = (
    "with_incoming",
    "with_outgoing",
    "with_node",
    "with_group",
    "with_user",
    "with_computer",
    "with_comment",
    "with_log",
    "with_authinfo",
)
"""Every relationship keyword of :meth:`~provstore.query.QueryBuilder.append`."""

LINK_RELATIONSHIPS = ("with_incoming", "with_outgoing")
"""The relationships that go through a link, which ``link_filters`` and ``link_project`` refer to."""

LINK_TYPES = ("create", "return", "input_calc", "input_work", "call_calc", "call_work")
"""Every link type."""

PROVENANCE_LINK_TYPES = ("create", "input_calc", "input_work")
"""Links of data provenance (what was made from what): the default of ancestors and descendants."""


def entity_kind(entity: object) -> EntityKind:
    """Return the kind called ``entity`` (``EntityTypes`` members are accepted too).

    :raises ValidationError: the name is not a queryable entity.
    """
    if isinstance(entity, str) and entity in ENTITIES:
        return ENTITIES[str(entity.value if isinstance(entity, Enum) else entity)]
    raise ValidationError(f"unknown entity {entity!r}; valid entities: {', '.join(ENTITIES)}")


def related_kind(entity: str, keyword: str) -> str:
    """Return the kind of entity that ``keyword`` of an ``entity`` refers to.

    :raises ValidationError: ``entity`` has no such relationship (the message lists the ones it has).
    """
    found = RELATIONSHIPS.get((entity, keyword))
    if found is None:
        valid = [name for (owner, name) in RELATIONSHIPS if owner == entity]
        raise ValidationError(f"{entity} has no relationship {keyword!r}; valid: {', '.join(valid)}")
    return found
