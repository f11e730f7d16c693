"""Validation of a backend's configuration with the pydantic ``Configuration`` model nested in its class."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from provstore.exceptions import ConfigurationError

if TYPE_CHECKING:
    import pydantic

__all__ = ["config_to_dict", "format_validation_error", "validate_backend_config"]


def format_validation_error(error: pydantic.ValidationError) -> str:
    """Return one line naming each invalid field and its problem, without the (possibly secret) input values."""
    problems = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        location = ".".join(str(part) for part in item["loc"]) or "(root)"
        problems.append(f"field {location!r}: {item['msg']}")
    return "; ".join(problems)


def validate_backend_config(backend_cls: type, config: dict[str, Any]) -> pydantic.BaseModel:
    """Validate ``config`` with ``backend_cls.Configuration`` and return the model instance.

    Keys that the model does not declare are refused too, so that a typo is not silently ignored.

    :raises ConfigurationError: naming the backend class, each invalid field and its problem.
    """
    import pydantic

    model = backend_cls.Configuration
    label = backend_cls.__name__
    if not isinstance(config, dict):
        raise ConfigurationError(f"invalid configuration for {label}: must be a mapping, got {type(config).__name__}")
    known = set(model.model_fields) | {f.alias for f in model.model_fields.values() if f.alias}
    unknown = sorted(set(config) - known)
    if unknown and model.model_config.get("extra") != "allow":
        raise ConfigurationError(
            f"invalid configuration for {label}: unknown field(s) {', '.join(map(repr, unknown))}; "
            f"known fields: {', '.join(model.model_fields) or 'none'}"
        )
    try:
        return model.model_validate(config)
    except pydantic.ValidationError as exc:
        raise ConfigurationError(f"invalid configuration for {label}: {format_validation_error(exc)}") from None


def config_to_dict(configuration: pydantic.BaseModel) -> dict[str, Any]:
    """Return the JSON-ready dictionary of a validated configuration, with secrets in clear (to store them)."""
    import pydantic

    def reveal(value: Any) -> Any:
        if isinstance(value, pydantic.SecretStr | pydantic.SecretBytes):
            return value.get_secret_value()
        if isinstance(value, dict):
            return {key: reveal(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [reveal(item) for item in value]
        return value

    return pydantic.TypeAdapter(Any).dump_python(reveal(configuration.model_dump(mode="python")), mode="json")
