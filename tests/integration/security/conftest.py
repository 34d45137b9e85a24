"""The in-process API fixtures (real policy, ledger, PostgreSQL, Temporal dev server) for the security tests."""
from tests.integration.api.conftest import api, api_settings, auth  # noqa: F401
