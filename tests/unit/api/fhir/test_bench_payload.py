"""``hms bench fhir`` posts valid R4 transaction Bundles and reports against its goal."""
from __future__ import annotations

from fhir.resources.R4B.bundle import Bundle

from deploy import bench_fhir


def test_bundles_are_valid_transactions_of_the_requested_size():
    batch = bench_fhir.bundles("p-1", "e-1", 120)
    assert [len(b["entry"]) for b in batch] == [50, 50, 20]
    for b in batch:
        Bundle.model_validate(b)
        assert b["type"] == "transaction"
    idents = {e["resource"]["identifier"][0]["value"] for b in batch for e in b["entry"]}
    assert len(idents) == 120


def test_report_says_whether_the_goal_is_met():
    assert "goal ≥ 300/s: met" in bench_fhir.report(1000, 3, [2.0, 2.5, 3.0], [1.0, 1.0, 1.0])
    assert "NOT met" in bench_fhir.report(1000, 3, [5.0, 5.0, 5.0], [1.0, 1.0, 1.0])
