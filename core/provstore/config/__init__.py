"""Configuration: the config directory, the file of profiles, and the Profile object."""

from provstore.config.profile import Profile

__all__ = ["Profile"]
