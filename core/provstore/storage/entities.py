"""Backend-independent interfaces of the stored entities and their collections.

A storage backend exposes one :class:`EntityCollection` per entity kind (``backend.users``,
``backend.nodes``, ...). ``collection.create(**fields)`` returns an *unstored* entity whose
fields can be changed freely; ``entity.store()`` writes it (atomically, inside or outside
``backend.transaction()``). Changing a field of a stored entity writes it immediately.

What an implementation provides (the abstract members below): for every entity ``pk``,
``is_stored``, ``store()`` and the field primitives :meth:`Entity.load_field` /
:meth:`Entity.save_field` (which validate and persist), optionally :attr:`Entity.deleted_pk`; for
nodes the links (``add_incoming``, ``get_incoming``, ``get_outgoing``) and :meth:`Node.get_repository`;
for groups their membership; and one :class:`EntityCollection` per kind. The behaviour written
once here on top of them (JSON attributes and extras, the virtual files of a node, sealing) is the
same on every backend.

Decisions, documented once:

- Missing attribute/extra keys raise :class:`~provstore.exceptions.NotExistent` (a ``KeyError``).
- JSON values follow :mod:`provstore.storage.json_values` (datetimes become ISO strings).
- A stored *data* node's attributes and files are immutable (they are provenance); a
  *process* node's stay mutable until :meth:`Node.seal`. Extras, labels and descriptions
  are always mutable. Violations raise :class:`~provstore.exceptions.IntegrityError`.
- Timestamps are timezone-aware UTC datetimes; a node's (and comment's) ``mtime`` is
  updated on every change after store.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import enum
import io
import os
import pathlib
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar, Generic, NamedTuple, TypeVar, overload

from provstore.exceptions import IntegrityError, NotExistent, ValidationError
from provstore.storage import virtual_files

if TYPE_CHECKING:
    from provstore.repository import AbstractRepositoryBackend

__all__ = [
    "ACYCLIC_FAMILIES",
    "LINK_RULES",
    "AuthInfo",
    "Comment",
    "Computer",
    "Entity",
    "EntityCollection",
    "Field",
    "Group",
    "LinkRule",
    "LinkTriple",
    "LinkType",
    "Log",
    "Node",
    "NodeKind",
    "User",
    "check_link",
]

T = TypeVar("T")
E = TypeVar("E", bound="Entity")
_MISSING: Any = object()

# ------------------------------------------------------------------------------ node kinds and links


class NodeKind(str, enum.Enum):
    """The kind of a node, given by the prefix of its ``node_type``."""

    DATA = "data."
    CALCULATION = "process.calculation."
    WORKFLOW = "process.workflow."

    @classmethod
    def of(cls, node_type: str) -> NodeKind | None:
        """Return the kind of a node type, or None if it is none of the known prefixes."""
        return next((kind for kind in cls if node_type.startswith(kind.value)), None)


class LinkType(str, enum.Enum):
    """The types of links between nodes (see ``SCHEMA.md``)."""

    INPUT_CALC = "input_calc"
    INPUT_WORK = "input_work"
    CREATE = "create"
    RETURN = "return"
    CALL_CALC = "call_calc"
    CALL_WORK = "call_work"


class LinkRule(NamedTuple):
    """What a link type allows: the node kinds it joins and the uniqueness it imposes."""

    source: NodeKind
    target: NodeKind
    unique_incoming_label: bool
    """The labels of the target's incoming links of this family are unique."""
    unique_outgoing_label: bool
    """The labels of the source's outgoing links of this type are unique."""
    single_incoming: bool
    """The target has at most one incoming link of this family."""
    family: frozenset[LinkType]
    """Link types that share the incoming rules (all inputs; all calls)."""


_INPUTS = frozenset({LinkType.INPUT_CALC, LinkType.INPUT_WORK})
_CALLS = frozenset({LinkType.CALL_CALC, LinkType.CALL_WORK})

LINK_RULES: Mapping[LinkType, LinkRule] = {
    LinkType.INPUT_CALC: LinkRule(NodeKind.DATA, NodeKind.CALCULATION, True, False, False, _INPUTS),
    LinkType.INPUT_WORK: LinkRule(NodeKind.DATA, NodeKind.WORKFLOW, True, False, False, _INPUTS),
    LinkType.CREATE: LinkRule(NodeKind.CALCULATION, NodeKind.DATA, False, True, True, frozenset({LinkType.CREATE})),
    LinkType.RETURN: LinkRule(NodeKind.WORKFLOW, NodeKind.DATA, False, True, False, frozenset({LinkType.RETURN})),
    LinkType.CALL_CALC: LinkRule(NodeKind.WORKFLOW, NodeKind.CALCULATION, False, False, True, _CALLS),
    LinkType.CALL_WORK: LinkRule(NodeKind.WORKFLOW, NodeKind.WORKFLOW, False, False, True, _CALLS),
}
"""The rules of each link type; the storage checks them, and acyclicity, before writing a link."""

ACYCLIC_FAMILIES: tuple[frozenset[LinkType], ...] = (_INPUTS | {LinkType.CREATE}, _CALLS)
"""Links of each family can never form a cycle: data provenance is a DAG and calls form a tree."""

_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MAX_LABEL_LENGTH = 255


def check_link(source: Node, target: Node, link_type: LinkType | str, link_label: str) -> LinkType:
    """Check everything about a new link that needs no database lookup; return its :class:`LinkType`.

    :raises ValidationError: unknown type, invalid label, unstored node, self-link or wrong node kinds.
    """
    try:
        link_type = LinkType(link_type)
    except ValueError:
        valid = ", ".join(item.value for item in LinkType)
        raise ValidationError(f"unknown link type {link_type!r}; valid types: {valid}") from None
    if not isinstance(link_label, str) or not _LABEL.fullmatch(link_label) or len(link_label) > MAX_LABEL_LENGTH:
        raise ValidationError(
            f"invalid link label {link_label!r}: must be an identifier "
            "(letters, digits and '_', not starting with a digit)"
        )
    for role, node in (("source", source), ("target", target)):
        if not isinstance(node, Node):
            raise ValidationError(f"link {role} must be a node, got {type(node).__name__}")
        if not node.is_stored:
            raise ValidationError(f"link {role} must be a stored node")
    if source.pk == target.pk:
        raise ValidationError(f"node {source.pk} cannot be linked to itself")
    rule = LINK_RULES[link_type]
    for role, node, kind in (("source", source, rule.source), ("target", target, rule.target)):
        if node.kind is not kind:
            raise ValidationError(
                f"a {link_type.value!r} link needs a {kind.name.lower()} node ({kind.value}*) as {role}, "
                f"got node {node.pk} of type {node.node_type!r}"
            )
    return link_type


class LinkTriple(NamedTuple):
    """A link seen from one of its ends: the node at the other end, the link type and label."""

    node: Node
    link_type: LinkType
    link_label: str


# ------------------------------------------------------------------------------------- entities


class Field(Generic[T]):
    """A stored field of an entity, read and written through :meth:`Entity.load_field` and :meth:`Entity.save_field`.

    Dict and list values are returned as deep copies: changing them changes nothing stored.
    """

    def __init__(self, doc: str, *, mutable_when_stored: bool = True) -> None:
        self.__doc__ = doc
        self.mutable_when_stored = mutable_when_stored
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type) -> Field[T]: ...

    @overload
    def __get__(self, instance: Entity, owner: type) -> T: ...

    def __get__(self, instance: Entity | None, owner: type) -> Field[T] | T:
        if instance is None:
            return self
        value = instance.load_field(self.name)
        return copy.deepcopy(value) if isinstance(value, dict | list) else value

    def __set__(self, instance: Entity, value: T) -> None:
        if not self.mutable_when_stored and instance.is_stored:
            raise IntegrityError(f"the {self.name} of a stored {instance.ENTITY_NAME} cannot be changed")
        instance.save_field(self.name, value)


class Entity(ABC):
    """A row of the storage (user, computer, node, ...), stored or not yet stored."""

    ENTITY_NAME: ClassVar[str]
    """Lower-case name of the entity kind, used in messages."""

    @property
    @abstractmethod
    def pk(self) -> int | None:
        """Return the primary key, or None while the entity is not stored."""

    @property
    @abstractmethod
    def is_stored(self) -> bool:
        """Return whether the entity is stored."""

    @abstractmethod
    def store(self: E) -> E:
        """Store the entity (no-op when already stored) and return it.

        :raises IntegrityError: a uniqueness or reference constraint is violated; nothing is written.
        """

    @property
    def deleted_pk(self) -> int | None:
        """Return the primary key the entity had if it was deleted from the storage, else None.

        Backends that can tell a deleted entity from an unstored one override this, so that writes to a
        deleted entity fail with :class:`~provstore.exceptions.NotExistent` (the default cannot tell).
        """
        return None

    def _check_not_deleted(self) -> None:
        """Raise NotExistent if the entity was deleted: it keeps its last values for reading, but writes are refused.

        A deleted entity is not stored (``pk`` is None); storing or changing it would only look like it worked.
        """
        pk = self.deleted_pk
        if pk is not None:
            raise NotExistent(
                f"{self.ENTITY_NAME} {pk} was deleted from the storage; create a new {self.ENTITY_NAME} instead"
            )

    @abstractmethod
    def load_field(self, name: str) -> Any:
        """Return the value of the field ``name`` without copying it (callers must not mutate it).

        The primitive behind every field read (:class:`Field` and the JSON helpers copy what they hand out);
        reference fields (``user``, ``computer``, ``node``) return the entity, or None.

        :raises NotExistent: the entity was deleted from the storage meanwhile.
        """

    @abstractmethod
    def save_field(self, name: str, value: Any) -> None:
        """Validate a value of the field ``name`` and set it, writing it at once (atomically) if the entity is stored.

        The primitive behind every field write. JSON fields must be validated with
        :func:`provstore.storage.json_values.clean_json_dict`, ``repository_metadata`` with
        :func:`provstore.storage.virtual_files.validate_repository_metadata`; a stored node's or comment's
        ``mtime`` is set to now on every other change. Refuse writes to a deleted entity with
        ``self._check_not_deleted()``.

        :raises ValidationError: unknown field or invalid value; nothing is changed.
        :raises IntegrityError: the write violates a constraint; nothing is changed.
        :raises NotExistent: the entity was deleted from the storage.
        """

    def __eq__(self, other: object) -> bool:
        if self is other:
            return True
        return type(self) is type(other) and self.is_stored and other.is_stored and self.pk == other.pk  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), self.pk)) if self.is_stored else id(self)

    def __repr__(self) -> str:
        if self.is_stored:
            return f"<{type(self).__name__} pk={self.pk}>"
        deleted = self.deleted_pk
        return f"<{type(self).__name__} {'unstored' if deleted is None else f'pk={deleted} deleted'}>"

    # -- per-key access to JSON dict fields (attributes and extras), shared by nodes and groups
    def _json_get(self, field: str, key: str, default: Any) -> Any:
        values = self.load_field(field)
        if key in values:
            return copy.deepcopy(values[key])
        if default is _MISSING:
            raise NotExistent(f"{self!r} has no {field[:-1]} {key!r}")
        return default

    def _json_set_many(self, field: str, values: Mapping[str, Any]) -> None:
        if not isinstance(values, Mapping):
            raise ValidationError(f"{field} must be given as a dict, got {type(values).__name__}")
        self.save_field(field, {**self.load_field(field), **values})

    def _json_delete_many(self, field: str, keys: Iterable[str]) -> None:
        current = self.load_field(field)
        keys = list(keys)
        missing = [key for key in keys if key not in current]
        if missing:
            raise NotExistent(f"{self!r} has no {field[:-1]} {', '.join(map(repr, missing))}")
        self.save_field(field, {key: value for key, value in current.items() if key not in keys})


class EntityCollection(ABC, Generic[E]):
    """The entities of one kind in a storage: create, get, delete, count and iterate."""

    @abstractmethod
    def create(self, **fields: Any) -> E:
        """Return a new unstored entity with the given fields (``user`` defaults to the default user).

        :raises ValidationError: an unknown, missing or invalid field.
        """

    @abstractmethod
    def get(self, pk: int | None = None, *, uuid: str | None = None, **fields: Any) -> E:
        """Return the one entity matching the primary key, uuid and/or (non-JSON) field values.

        :raises NotExistent: no entity matches.
        :raises MultipleObjectsError: several entities match.
        :raises ValidationError: no criterion or an unknown field.
        """

    def get_or_create(self, **fields: Any) -> E:
        """Return the stored entity with these field values, creating and storing it if there is none.

        Meant for unique fields (e.g. a user's ``email``); a concurrent creation is picked up, not an error.
        """
        try:
            return self.get(**fields)
        except NotExistent:
            pass
        try:
            return self.create(**fields).store()
        except IntegrityError:
            return self.get(**fields)

    @abstractmethod
    def delete(self, pk: int) -> None:
        """Delete the entity with this primary key.

        :raises NotExistent: no such entity.
        :raises IntegrityError: other data depends on it (nothing is deleted).
        """

    @abstractmethod
    def count(self) -> int:
        """Return the number of stored entities of this kind."""

    @abstractmethod
    def __iter__(self) -> Iterator[E]:
        """Iterate over all stored entities by primary key, loading them in batches (use queries to search)."""


class User(Entity):
    """A person who creates data."""

    ENTITY_NAME = "user"
    email = Field[str]("Email address; unique, identifies the user.")
    first_name = Field[str]("First name.")
    last_name = Field[str]("Last name.")
    institution = Field[str]("Institution.")


class Computer(Entity):
    """A machine on which calculations run."""

    ENTITY_NAME = "computer"
    uuid = Field[str]("Universally unique identifier.", mutable_when_stored=False)
    label = Field[str]("Unique label.")
    hostname = Field[str]("Host name.")
    description = Field[str]("Free-text description.")
    scheduler_type = Field[str]("Name of the scheduler plugin.")
    transport_type = Field[str]("Name of the transport plugin.")
    metadata = Field[dict[str, Any]]("JSON dict of further settings.")


class AuthInfo(Entity):
    """The credentials of a user on a computer (one per user and computer)."""

    ENTITY_NAME = "authinfo"
    user = Field[User]("The user.", mutable_when_stored=False)
    computer = Field[Computer]("The computer.", mutable_when_stored=False)
    enabled = Field[bool]("Whether the user may use the computer.")
    auth_params = Field[dict[str, Any]]("JSON dict of authentication parameters.")
    metadata = Field[dict[str, Any]]("JSON dict of further settings.")


class _HasExtras(Entity):
    """Entities with a JSON ``extras`` dict that users may change at any time."""

    @property
    def extras(self) -> dict[str, Any]:
        """Return a deep copy of all extras."""
        return copy.deepcopy(self.load_field("extras"))

    def get_extra(self, key: str, default: Any = _MISSING) -> Any:
        """Return (a copy of) an extra, or ``default``; raise NotExistent if missing and no default."""
        return self._json_get("extras", key, default)

    def set_extra(self, key: str, value: Any) -> None:
        """Set one extra (validated, see :mod:`provstore.storage.json_values`)."""
        self._json_set_many("extras", {key: value})

    def set_extra_many(self, values: Mapping[str, Any]) -> None:
        """Set several extras at once; if any is invalid none is set."""
        self._json_set_many("extras", values)

    def reset_extras(self, values: Mapping[str, Any]) -> None:
        """Replace all extras by ``values``."""
        self.save_field("extras", dict(values) if isinstance(values, Mapping) else values)

    def delete_extra(self, key: str) -> None:
        """Delete one extra; raise NotExistent if missing."""
        self._json_delete_many("extras", [key])

    def delete_extra_many(self, keys: Iterable[str]) -> None:
        """Delete several extras; if any is missing none is deleted (NotExistent)."""
        self._json_delete_many("extras", keys)

    def clear_extras(self) -> None:
        """Delete all extras."""
        self.save_field("extras", {})

    def extras_items(self) -> Iterator[tuple[str, Any]]:
        """Iterate over (key, copy of value) of all extras."""
        return ((key, copy.deepcopy(value)) for key, value in list(self.load_field("extras").items()))

    def extras_keys(self) -> list[str]:
        """Return the keys of all extras."""
        return list(self.load_field("extras"))


class Group(_HasExtras):
    """A named set of nodes; (label, type_string) is unique."""

    ENTITY_NAME = "group"
    uuid = Field[str]("Universally unique identifier.", mutable_when_stored=False)
    label = Field[str]("Label; unique together with ``type_string``.")
    type_string = Field[str]("Kind of group (default ``core``).")
    description = Field[str]("Free-text description.")
    user = Field[User]("The owner.")
    time = Field[datetime.datetime]("Creation time (UTC).", mutable_when_stored=False)

    @abstractmethod
    def add_nodes(self, nodes: Iterable[Node]) -> None:
        """Add stored nodes to the stored group in one write; nodes already in it are ignored.

        :raises ValidationError: the group or a node is not stored, or is not a node.
        """

    @abstractmethod
    def remove_nodes(self, nodes: Iterable[Node]) -> None:
        """Remove nodes from the group in one write; nodes not in it are ignored."""

    @property
    @abstractmethod
    def nodes(self) -> list[Node]:
        """Return the nodes in the group, by primary key (use queries for large groups)."""

    @abstractmethod
    def count(self) -> int:
        """Return the number of nodes in the group."""


class Node(_HasExtras):
    """A node of the provenance graph: data or a process, with attributes, extras, links and files."""

    ENTITY_NAME = "node"
    uuid = Field[str]("Universally unique identifier.", mutable_when_stored=False)
    node_type = Field[str]("Type string; its prefix gives the :class:`NodeKind`.", mutable_when_stored=False)
    process_type = Field[str | None]("Process type string of process nodes.", mutable_when_stored=False)
    label = Field[str]("Short label.")
    description = Field[str]("Free-text description.")
    ctime = Field[datetime.datetime]("Creation time (UTC).", mutable_when_stored=False)
    mtime = Field[datetime.datetime]("Last modification time (UTC), updated on every change after store.")
    user = Field[User]("The user who created the node.")
    computer = Field[Computer | None]("The computer the node ran on, if any.", mutable_when_stored=False)

    @property
    def kind(self) -> NodeKind | None:
        """Return the node's kind (data, calculation, workflow), or None for other node types."""
        return NodeKind.of(self.load_field("node_type"))

    # ------------------------------------------------------------------------- sealing
    @property
    def is_sealed(self) -> bool:
        """Return whether the process node is sealed (its attributes and files are final)."""
        return self.load_field("attributes").get("sealed") is True

    def seal(self) -> None:
        """Make the attributes and files of a stored process node immutable (no-op when sealed).

        :raises ValidationError: the node is not a stored process node. :raises NotExistent: it was deleted.
        """
        self._check_not_deleted()
        if not self.is_stored or self.kind not in (NodeKind.CALCULATION, NodeKind.WORKFLOW):
            raise ValidationError(f"only stored process nodes can be sealed, not {self!r} of type {self.node_type!r}")
        if not self.is_sealed:
            self.save_field("attributes", {**self.load_field("attributes"), "sealed": True})

    def _check_content_mutable(self) -> None:
        self._check_not_deleted()  # before a file reaches the repository for a node that is gone
        if not self.is_stored:
            return
        if self.kind is NodeKind.DATA:
            raise IntegrityError(f"the attributes and files of stored data node {self.pk} are immutable")
        if self.is_sealed:
            raise IntegrityError(f"node {self.pk} is sealed: its attributes and files are immutable")

    # ----------------------------------------------------------------------- attributes
    @property
    def attributes(self) -> dict[str, Any]:
        """Return a deep copy of all attributes."""
        return copy.deepcopy(self.load_field("attributes"))

    def get_attribute(self, key: str, default: Any = _MISSING) -> Any:
        """Return (a copy of) an attribute, or ``default``; raise NotExistent if missing and no default."""
        return self._json_get("attributes", key, default)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute (validated, see :mod:`provstore.storage.json_values`)."""
        self.set_attribute_many({key: value})

    def set_attribute_many(self, values: Mapping[str, Any]) -> None:
        """Set several attributes at once; if any is invalid none is set."""
        self._check_content_mutable()
        self._json_set_many("attributes", values)

    def reset_attributes(self, values: Mapping[str, Any]) -> None:
        """Replace all attributes by ``values``."""
        self._check_content_mutable()
        self.save_field("attributes", dict(values) if isinstance(values, Mapping) else values)

    def delete_attribute(self, key: str) -> None:
        """Delete one attribute; raise NotExistent if missing."""
        self.delete_attribute_many([key])

    def delete_attribute_many(self, keys: Iterable[str]) -> None:
        """Delete several attributes; if any is missing none is deleted (NotExistent)."""
        self._check_content_mutable()
        self._json_delete_many("attributes", keys)

    def clear_attributes(self) -> None:
        """Delete all attributes."""
        self._check_content_mutable()
        self.save_field("attributes", {})

    def attributes_items(self) -> Iterator[tuple[str, Any]]:
        """Iterate over (key, copy of value) of all attributes."""
        return ((key, copy.deepcopy(value)) for key, value in list(self.load_field("attributes").items()))

    def attributes_keys(self) -> list[str]:
        """Return the keys of all attributes."""
        return list(self.load_field("attributes"))

    # ---------------------------------------------------------------------------- links
    @abstractmethod
    def add_incoming(self, source: Node, link_type: LinkType | str, link_label: str) -> None:
        """Add a link from ``source`` to this node; both must be stored.

        :raises ValidationError: the link breaks a rule of :data:`LINK_RULES` or would close a
            cycle (see :data:`ACYCLIC_FAMILIES`); nothing is written.
        """

    @abstractmethod
    def get_incoming(self, link_type: LinkType | str | None = None, link_label: str | None = None) -> list[LinkTriple]:
        """Return the incoming links (optionally of one type and/or label), oldest first."""

    @abstractmethod
    def get_outgoing(self, link_type: LinkType | str | None = None, link_label: str | None = None) -> list[LinkTriple]:
        """Return the outgoing links (optionally of one type and/or label), oldest first."""

    # ---------------------------------------------------------------------------- files
    @abstractmethod
    def get_repository(self) -> AbstractRepositoryBackend:
        """Return the repository holding this node's file contents (its storage's :meth:`get_repository`)."""

    @property
    def repository_metadata(self) -> dict[str, Any]:
        """Return a copy of the virtual file tree (see :mod:`provstore.storage.virtual_files`)."""
        return copy.deepcopy(self.load_field("repository_metadata"))

    def put_object_from_filelike(self, handle: BinaryIO, path: str | pathlib.PurePath) -> None:
        """Store the bytes of ``handle`` as the file ``path`` (replacing a file already there).

        The content is written to the repository before the node refers to it, so a failure
        never leaves the node pointing to a missing object.

        :raises ValidationError: invalid path. :raises IsADirectoryError: ``path`` is a directory.
        :raises NotADirectoryError: a parent of ``path`` is a file.
        :raises IntegrityError: the node's files are immutable (stored data node, sealed process).
        """
        parts = virtual_files.validate_path(path)
        self._check_content_mutable()
        tree = self.load_field("repository_metadata")
        virtual_files.check_can_put_file(tree, parts)
        key = self.get_repository().put_object_from_filelike(handle)
        self.save_field("repository_metadata", virtual_files.with_file(tree, parts, key))

    def put_object_from_file(self, filepath: str | os.PathLike[str], path: str | pathlib.PurePath) -> None:
        """Store the content of the local file ``filepath`` as the file ``path``."""
        with open(filepath, "rb") as handle:
            self.put_object_from_filelike(handle, path)

    def put_object_from_bytes(self, content: bytes, path: str | pathlib.PurePath) -> None:
        """Store ``content`` as the file ``path``."""
        if not isinstance(content, bytes | bytearray | memoryview):
            raise ValidationError(f"content must be bytes, got {type(content).__name__}")
        self.put_object_from_filelike(io.BytesIO(content), path)

    def _file_key(self, path: str | pathlib.PurePath) -> str:
        parts = virtual_files.validate_path(path)
        entry = virtual_files.get_entry(self.load_field("repository_metadata"), parts)
        if "k" not in entry:
            raise IsADirectoryError(f"'{'/'.join(parts)}' is a directory")
        return entry["k"]

    @contextlib.contextmanager
    def open(self, path: str | pathlib.PurePath) -> Iterator[BinaryIO]:
        """Open the file ``path`` for reading bytes.

        :raises FileNotFoundError: no such file. :raises IsADirectoryError: ``path`` is a directory.
        """
        with self.get_repository().open(self._file_key(path)) as handle:
            yield handle

    def get_object_content(self, path: str | pathlib.PurePath) -> bytes:
        """Return the whole content of the file ``path`` (for small files; else use :meth:`open`)."""
        return self.get_repository().get_object_content(self._file_key(path))

    def list_object_names(self, path: str | pathlib.PurePath | None = None) -> list[str]:
        """Return the sorted names in the directory ``path`` (the root when None)."""
        parts = () if path is None else virtual_files.validate_path(path)
        _, dirnames, filenames = next(virtual_files.walk(self.load_field("repository_metadata"), parts))
        return sorted(dirnames + filenames)

    def walk(
        self, path: str | pathlib.PurePath | None = None
    ) -> Iterator[tuple[pathlib.PurePosixPath, list[str], list[str]]]:
        """Yield ``(dirpath, dirnames, filenames)`` for every directory, top-down like :func:`os.walk`."""
        parts = () if path is None else virtual_files.validate_path(path)
        yield from virtual_files.walk(self.repository_metadata, parts)

    def delete_object(self, path: str | pathlib.PurePath) -> None:
        """Remove the file or directory ``path`` from the node.

        The repository objects stay (they may be shared); maintenance reclaims unreferenced ones.

        :raises FileNotFoundError: nothing exists at ``path``.
        """
        parts = virtual_files.validate_path(path)
        self._check_content_mutable()
        tree = virtual_files.without_entry(self.load_field("repository_metadata"), parts)
        self.save_field("repository_metadata", tree)


class Comment(Entity):
    """A free-text comment by a user on a node."""

    ENTITY_NAME = "comment"
    uuid = Field[str]("Universally unique identifier.", mutable_when_stored=False)
    node = Field[Node]("The node commented on.", mutable_when_stored=False)
    user = Field[User]("The author.")
    content = Field[str]("The text.")
    ctime = Field[datetime.datetime]("Creation time (UTC).", mutable_when_stored=False)
    mtime = Field[datetime.datetime]("Last modification time (UTC), updated on every change after store.")


class Log(Entity):
    """A log record attached to a node."""

    ENTITY_NAME = "log"
    uuid = Field[str]("Universally unique identifier.", mutable_when_stored=False)
    node = Field[Node]("The node the record is about.", mutable_when_stored=False)
    time = Field[datetime.datetime]("Time of the record (UTC).")
    loggername = Field[str]("Name of the logger.")
    levelname = Field[str]("Level name (at most 50 characters).")
    message = Field[str]("The message.")
    metadata = Field[dict[str, Any]]("JSON dict of further record data.")
