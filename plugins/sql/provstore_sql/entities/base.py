"""Generic SQLAlchemy implementation of entities and collections: fields map to model columns.

Each entity wraps one model instance. Until ``store()`` the instance is transient (not in the
session); field values are validated against the column types when set. Writes run inside
``backend.transaction()`` so they are atomic whether or not the caller opened a transaction,
and database constraint violations become :class:`~provstore.exceptions.IntegrityError`.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import uuid as uuid_module
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import sqlalchemy as sa
import sqlalchemy.exc
import sqlalchemy.orm.exc
from provstore.exceptions import IntegrityError, MultipleObjectsError, NotExistent, ValidationError
from provstore.storage.entities import Entity, EntityCollection
from provstore.storage.json_values import check_text, clean_json_dict
from provstore.storage.virtual_files import validate_repository_metadata
from sqlalchemy.sql.type_api import TypeEngine

from provstore_sql.entities.deletion import delete_held_rows

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from provstore_sql.models import Base

__all__ = ["SqlCollection", "SqlEntity", "utcnow", "write_transaction"]

E = TypeVar("E", bound="SqlEntity")

ITERATION_BATCH_SIZE = 1000


def utcnow() -> datetime.datetime:
    """Return the current time as a timezone-aware UTC datetime."""
    return datetime.datetime.now(datetime.timezone.utc)


@contextlib.contextmanager
def write_transaction(backend: Any, what: str) -> Iterator[Session]:
    """Run a write in ``backend.transaction()`` and flush it; turn constraint violations into IntegrityError.

    A row that another thread or process deleted after it was loaded here is a NotExistent error.

    :param what: describes the write for the error message, e.g. ``"store user"``.
    """
    try:
        with backend.transaction():
            session = backend.get_session()
            yield session
            session.flush()
    except sqlalchemy.exc.IntegrityError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else "constraint violated"
        raise IntegrityError(f"cannot {what}: {reason}") from None
    except (sqlalchemy.orm.exc.StaleDataError, sqlalchemy.orm.exc.ObjectDeletedError):
        raise NotExistent(f"cannot {what}: it was deleted from the storage meanwhile") from None


class SqlEntity(Entity):
    """An entity backed by one row of ``MODEL``; ``FIELDS`` maps public field names to model attributes."""

    MODEL: ClassVar[type[Base]]
    FIELDS: ClassVar[dict[str, str]]
    """Public field name → model attribute (``user`` → ``user_id``, ``metadata`` → ``metadata_``)."""
    REFERENCES: ClassVar[dict[str, type[SqlEntity]]] = {}
    """Fields holding another entity (stored as its primary key)."""
    REQUIRED: ClassVar[tuple[str, ...]] = ()
    """Fields that ``create()`` needs (those without a sensible default)."""
    TOUCH_FIELD: ClassVar[str | None] = None
    """Timestamp field set to now whenever the stored entity changes (``mtime``)."""

    def __init__(self, backend: Any, model: Base) -> None:
        """Wrap ``model`` (a row of ``MODEL``, transient or persistent) of ``backend``."""
        self._backend = backend
        self._model = model

    @classmethod
    def _new(cls: type[E], backend: Any) -> E:
        """Return an unstored entity whose fields hold the column defaults (e.g. a fresh uuid)."""
        model = cls.MODEL()
        for attribute, default in _column_defaults(cls.MODEL):
            setattr(model, attribute, default(None) if callable(default) else default)
        return cls(backend, model)

    @classmethod
    def column(cls, name: str) -> sa.Column[Any]:
        """Return the table column of the public field ``name``."""
        return cls.MODEL.__mapper__.get_property(cls.FIELDS[name]).columns[0]

    @property
    def backend(self) -> Any:
        """Return the storage backend this entity belongs to."""
        return self._backend

    @property
    def model(self) -> Base:
        """Return the wrapped SQLAlchemy model instance (for the SQL layer, e.g. queries)."""
        return self._model

    @property
    def pk(self) -> int | None:
        """Return the primary key, or None while the entity is not stored."""
        return self._model_pk() if self.is_stored else None  # the identity: reading ``id`` may load it

    @property
    def is_stored(self) -> bool:
        """Return whether the row exists (it was inserted, and neither rolled back nor deleted)."""
        state = sa.inspect(self._model)
        return state.has_identity and not state.was_deleted

    def _model_pk(self) -> int | None:
        """Return the primary key the row has or had, without loading anything."""
        identity = sa.inspect(self._model).identity
        return identity[0] if identity else None

    @property
    def deleted_pk(self) -> int | None:
        """Return the former primary key if the session knows the row as deleted (``collection.delete``, ...)."""
        return self._model_pk() if sa.inspect(self._model).was_deleted else None

    def store(self: E) -> E:
        """Insert the row (no-op when stored) and return the entity.

        :raises NotExistent: the entity was deleted (a deleted row is not brought back).
        """
        self._check_not_deleted()
        if not self.is_stored:
            with write_transaction(self._backend, f"store {self.ENTITY_NAME}") as session:
                session.add(self._model)
        return self

    def load_field(self, name: str) -> Any:
        try:
            value = getattr(self._model, self.FIELDS[name])
        except sqlalchemy.orm.exc.ObjectDeletedError:  # an expired object whose row is gone
            raise NotExistent(f"{self.ENTITY_NAME} {self._model_pk()} was deleted from the storage") from None
        reference = self.REFERENCES.get(name)
        if reference is not None:
            if value is None:
                return None
            model = self._backend.get_session().get(reference.MODEL, value)
            return None if model is None else reference(self._backend, model)
        return value

    def save_field(self, name: str, value: Any) -> None:
        self._check_not_deleted()
        value = self._validate(name, value)
        attribute = self.FIELDS[name]
        if not self.is_stored:
            setattr(self._model, attribute, value)
            return
        with write_transaction(self._backend, f"update {self.ENTITY_NAME} {self.pk}"):
            setattr(self._model, attribute, value)
            if self.TOUCH_FIELD is not None and name != self.TOUCH_FIELD:
                setattr(self._model, self.FIELDS[self.TOUCH_FIELD], utcnow())

    def _validate(self, name: str, value: Any) -> Any:
        """Return ``value`` converted to what the column of field ``name`` stores, or raise ValidationError."""
        if name not in self.FIELDS:
            raise ValidationError(f"{self.ENTITY_NAME} has no field {name!r}; fields: {', '.join(sorted(self.FIELDS))}")
        column = self.column(name)
        if value is None:
            if not column.nullable or isinstance(column.type, sa.JSON):
                raise ValidationError(f"{self.ENTITY_NAME} field {name!r} must not be None")
            return None
        reference = self.REFERENCES.get(name)
        if reference is not None:
            if not isinstance(value, reference) or not value.is_stored or value.backend is not self._backend:
                raise ValidationError(
                    f"{self.ENTITY_NAME} field {name!r} must be a stored {reference.ENTITY_NAME} of this storage, "
                    f"got {value!r}"
                )
            return value.pk
        if name == "repository_metadata":
            return validate_repository_metadata(value)
        if name == "uuid":
            try:
                return str(uuid_module.UUID(str(value)))
            except ValueError:
                raise ValidationError(f"{self.ENTITY_NAME} uuid {value!r} is not a valid UUID") from None
        if isinstance(column.type, sa.JSON):
            return clean_json_dict(value, name)  # errors name the key path, e.g. "attributes.a.b"
        return _validate_type(column.type, value, f"{self.ENTITY_NAME} field {name!r}")


@functools.cache
def _column_defaults(model: type[Base]) -> list[tuple[str, Any]]:
    """Return (model attribute, default value or callable taking a context) for the columns with defaults."""
    mapper = sa.inspect(model)
    return [
        (mapper.get_property_by_column(column).key, column.default.arg)
        for column in model.__table__.columns
        if column.default is not None and not column.primary_key
    ]


def _validate_type(column_type: TypeEngine[Any], value: Any, where: str) -> Any:
    if isinstance(column_type, sa.TypeDecorator):  # e.g. UtcDateTime
        column_type = column_type.impl_instance
    if isinstance(column_type, sa.Boolean):
        if not isinstance(value, bool):
            raise ValidationError(f"{where} must be a bool, got {type(value).__name__}")
        return value
    if isinstance(column_type, sa.DateTime):
        if not isinstance(value, datetime.datetime) or value.tzinfo is None:
            raise ValidationError(f"{where} must be a timezone-aware datetime, got {value!r}")
        return value.astimezone(datetime.timezone.utc)
    if isinstance(column_type, sa.String):  # includes Text
        if not isinstance(value, str):
            raise ValidationError(f"{where} must be a string, got {type(value).__name__}")
        if column_type.length is not None and len(value) > column_type.length:
            raise ValidationError(f"{where} is longer than {column_type.length} characters")
        check_text(value, where)
        return value
    raise TypeError(f"no validation for column type {column_type!r}")  # pragma: no cover - model mismatch


class SqlCollection(EntityCollection[E], Generic[E]):
    """The entities of one kind in an SQL storage; ``ENTITY`` is the entity class."""

    ENTITY: ClassVar[type[SqlEntity]]

    def __init__(self, backend: Any) -> None:
        """Bind the collection to ``backend`` (an SQL storage backend)."""
        self._backend = backend

    @property
    def backend(self) -> Any:
        """Return the storage backend of this collection."""
        return self._backend

    def from_model(self, model: Base) -> E:
        """Return the entity wrapping a model instance of this collection's table."""
        return self.ENTITY(self._backend, model)  # type: ignore[return-value]

    def create(self, **fields: Any) -> E:
        """Return a new unstored entity; ``user`` defaults to the backend's default user."""
        unknown = sorted(set(fields) - set(self.ENTITY.FIELDS))
        if unknown:
            known = ", ".join(sorted(self.ENTITY.FIELDS))
            raise ValidationError(f"unknown {self.ENTITY.ENTITY_NAME} field(s) {', '.join(unknown)}; fields: {known}")
        if "user" in self.ENTITY.REFERENCES and fields.get("user") is None:
            fields["user"] = self._backend.default_user
            if fields["user"] is None:
                raise ValidationError(f"no user given for the new {self.ENTITY.ENTITY_NAME} and no default user set")
        missing = [name for name in self.ENTITY.REQUIRED if fields.get(name) is None]
        if missing:
            raise ValidationError(f"a {self.ENTITY.ENTITY_NAME} needs the field(s) {', '.join(missing)}")
        entity = self.ENTITY._new(self._backend)
        for name, value in fields.items():
            entity.save_field(name, value)
        return entity  # type: ignore[return-value]

    def get(self, pk: int | None = None, *, uuid: str | None = None, **fields: Any) -> E:
        """Return the one entity matching all the given criteria."""
        if pk is not None:
            fields["pk"] = pk
        if uuid is not None:
            fields["uuid"] = uuid
        if not fields:
            raise ValidationError(f"give a pk, uuid or field value to get a {self.ENTITY.ENTITY_NAME}")
        model = self.ENTITY.MODEL
        conditions = []
        for name, value in fields.items():
            if name == "pk":
                conditions.append(model.id == value)
                continue
            if name not in self.ENTITY.FIELDS or isinstance(self.ENTITY.column(name).type, sa.JSON):
                raise ValidationError(f"cannot get a {self.ENTITY.ENTITY_NAME} by {name!r}")
            if name in self.ENTITY.REFERENCES:
                value = value.pk if isinstance(value, SqlEntity) else value
            conditions.append(getattr(model, self.ENTITY.FIELDS[name]) == value)
        rows = self._backend.get_session().scalars(sa.select(model).where(*conditions).limit(2)).all()
        described = ", ".join(f"{name}={value!r}" for name, value in fields.items())
        if not rows:
            raise NotExistent(f"no {self.ENTITY.ENTITY_NAME} with {described}")
        if len(rows) > 1:
            raise MultipleObjectsError(f"several {self.ENTITY.ENTITY_NAME}s with {described}")
        return self.from_model(rows[0])

    def delete(self, pk: int) -> None:
        """Delete the entity with primary key ``pk``; held entities of the rows its deletion cascades to know it too."""
        with write_transaction(self._backend, f"delete {self.ENTITY.ENTITY_NAME} {pk}") as session:
            model = session.get(self.ENTITY.MODEL, pk)
            if model is None:
                raise NotExistent(f"no {self.ENTITY.ENTITY_NAME} with pk={pk!r}")
            self._check_deletable(session, pk)
            delete_held_rows(session, self.ENTITY.MODEL, [pk])  # held: ``get`` loaded it

    def _check_deletable(self, session: Session, pk: int) -> None:
        """Raise IntegrityError if rows that must not vanish with it refer to the entity ``pk``."""

    def _refuse_if_referenced(self, session: Session, pk: int, column: sa.Column[Any], what: str) -> None:
        count = session.scalar(sa.select(sa.func.count()).where(column == pk))
        if count:
            raise IntegrityError(f"cannot delete {self.ENTITY.ENTITY_NAME} {pk}: {count} {what} refer to it")

    def count(self) -> int:
        """Return the number of stored entities of this kind."""
        return self._backend.get_session().scalar(sa.select(sa.func.count()).select_from(self.ENTITY.MODEL))

    def __iter__(self) -> Iterator[E]:
        """Iterate over all entities by primary key, loading ``ITERATION_BATCH_SIZE`` rows per query."""
        model, last = self.ENTITY.MODEL, None
        while True:
            statement = sa.select(model).order_by(model.id).limit(ITERATION_BATCH_SIZE)
            if last is not None:
                statement = statement.where(model.id > last)
            rows = self._backend.get_session().scalars(statement).all()
            yield from (self.from_model(row) for row in rows)
            if len(rows) < ITERATION_BATCH_SIZE:
                return
            last = rows[-1].id
