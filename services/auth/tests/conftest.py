"""auth's fixtures live in :mod:`fuelhub_auth.testing` so test modules can import its types."""

from fuelhub_auth.testing import auth, auth_overrides, make_auth_settings

__all__ = ["auth", "auth_overrides", "make_auth_settings"]
