"""Backend configuration validation: errors name the field and the problem, never the secret value."""

from __future__ import annotations

import pydantic
import pytest
from provstore.config import config_to_dict, validate_backend_config
from provstore.exceptions import ConfigurationError


class Backend:
    class Configuration(pydantic.BaseModel):
        host: str = "localhost"
        port: int = 5432
        password: pydantic.SecretStr
        nested: dict[str, int] = pydantic.Field(default_factory=dict)


def test_valid_config_returns_the_model():
    model = validate_backend_config(Backend, {"password": "s3cret", "port": "6000"})
    assert model.port == 6000
    assert model.password.get_secret_value() == "s3cret"


def test_invalid_field_is_named_without_its_value():
    with pytest.raises(ConfigurationError) as error:
        validate_backend_config(Backend, {"password": "s3cret", "port": "not-a-port-s3cret"})
    message = str(error.value)
    assert "field 'port'" in message and "integer" in message
    assert "s3cret" not in message
    assert error.value.__cause__ is None and error.value.__suppress_context__  # no pydantic text with inputs


def test_missing_and_nested_fields_are_named():
    with pytest.raises(ConfigurationError, match=r"field 'password': Field required; field 'nested.a'"):
        validate_backend_config(Backend, {"nested": {"a": "x"}})


def test_unknown_field_is_refused():
    with pytest.raises(ConfigurationError, match=r"unknown field.*'pasword'.*known fields: host, port, password"):
        validate_backend_config(Backend, {"pasword": "x"})


def test_config_must_be_a_mapping():
    with pytest.raises(ConfigurationError, match=r"must be a mapping"):
        validate_backend_config(Backend, ["password"])


def test_config_to_dict_stores_secrets_in_clear_and_fills_defaults():
    model = validate_backend_config(Backend, {"password": "s3cret"})
    assert config_to_dict(model) == {"host": "localhost", "port": 5432, "password": "s3cret", "nested": {}}
