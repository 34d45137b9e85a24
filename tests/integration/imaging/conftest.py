"""The in-process API fixtures (``api``, ``auth``) of tests/integration/api, for the imaging API tests."""
from tests.integration.api.conftest import api, api_settings, auth  # noqa: F401
