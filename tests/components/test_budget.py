"""The failover budget arithmetic."""

import pytest

from recsys_dr.components.dns import failover_budget


@pytest.mark.parametrize(
    ("interval", "threshold", "ttl", "total"),
    [(10, 3, 30, 60), (30, 3, 60, 150), (10, 1, 1, 11), (30, 10, 60, 360)],
)
def test_budget_is_interval_times_threshold_plus_ttl(interval, threshold, ttl, total):
    budget = failover_budget(interval=interval, failure_threshold=threshold, ttl=ttl)
    assert budget.detection_seconds == interval * threshold
    assert budget.total_seconds == total


def test_budget_explains_itself():
    assert failover_budget(interval=10, failure_threshold=3, ttl=30).explain() == "10 s x 3 failed checks + TTL 30 s = 60 s"
