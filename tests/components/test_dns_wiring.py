"""DnsWiring rules: the records always have a health check that can steer them."""

from __future__ import annotations

import pytest

from recsys_dr.components.dns.failover_records import DnsWiring, dns_wiring_problems

ENDPOINTS = {"primary": "a.elb.amazonaws.com", "standby": "b.elb.amazonaws.com"}


@pytest.mark.parametrize(
    ("wiring", "message"),
    [
        (DnsWiring(endpoints={"primary": "a"}), "`endpoints` must have exactly the keys primary, standby"),
        (DnsWiring(endpoints=ENDPOINTS, routing_health_check_ids={"primary": "hc"}),
         "`routing_health_check_ids` must have exactly the keys primary, standby"),
        # Internal endpoints get no HTTP checks (Route 53's checkers cannot reach them): something else must steer.
        (DnsWiring(endpoints=ENDPOINTS, probe_endpoints=False), "`probe_endpoints=False` needs `routing_health_check_ids`"),
    ],
)
def test_wiring_that_leaves_records_unsteered_is_refused(wiring, message):
    assert any(message in p for p in dns_wiring_problems(wiring))


def test_valid_wirings_have_no_problems():
    assert dns_wiring_problems(DnsWiring(endpoints=ENDPOINTS)) == []
    assert dns_wiring_problems(DnsWiring(endpoints=ENDPOINTS, probe_endpoints=False,
                                         routing_health_check_ids={"primary": "hc-1", "standby": "hc-2"})) == []
