"""The ops tests use the real API app of tests/integration/api (policy, ledger, PostgreSQL, Temporal)."""
from tests.integration.api.conftest import api, api_settings, auth  # noqa: F401  (fixtures)
