"""The in-process API fixtures of tests/integration/api, for the triage and intake routes."""
from tests.integration.api.conftest import api, api_settings, auth  # noqa: F401
