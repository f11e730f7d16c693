"""Configuration: the config directory, the file of profiles, the Profile object and backend config validation."""

from provstore.config.config_file import (
    CONFIG_DIR_ENV,
    CONFIG_FILENAME,
    CONFIG_VERSION,
    Config,
    get_config_dir,
    validate_profile_name,
)
from provstore.config.profile import Profile
from provstore.config.validation import config_to_dict, format_validation_error, validate_backend_config

__all__ = [
    "CONFIG_DIR_ENV",
    "CONFIG_FILENAME",
    "CONFIG_VERSION",
    "Config",
    "Profile",
    "config_to_dict",
    "format_validation_error",
    "get_config_dir",
    "validate_backend_config",
    "validate_profile_name",
]
