"""``python -m tests.reliability.rolling_worker``: the journeys' worker of a new build (see ``rolling_build``).

It is ``hms worker`` itself with one workflow swapped: the worker is built by
``deploy.services.build_worker`` from the module's workflow list, so everything else (activities,
queue, data converter, shutdown on SIGTERM) is exactly what the stock worker runs.
"""
from __future__ import annotations

import sys

from deploy import services
from deploy.settings import get_settings
from tests.reliability.rolling_build import RollingPatientJourney
from workflows.journey import PatientJourney


def main() -> int:
    services.WORKFLOWS = [RollingPatientJourney if w is PatientJourney else w for w in services.WORKFLOWS]
    return services.run_worker(get_settings())


if __name__ == "__main__":
    sys.exit(main())
