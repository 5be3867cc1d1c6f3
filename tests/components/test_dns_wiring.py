"""DnsWiring rules: the records always have a health check that can steer them."""

from __future__ import annotations

import pytest

from recsys_dr.components.dns.failover_records import DnsWiring, dns_wiring_problems

ENDPOINTS = {"primary": "a.elb.amazonaws.com", "standby": "b.elb.amazonaws.com"}
ZONES = {"primary": "Z35SXDOTRQ7X7K", "standby": "Z1H1FL5HABSF5"}


@pytest.mark.parametrize(
    ("wiring", "message"),
    [
        (DnsWiring(endpoints={"primary": "a"}, alias_zone_ids=ZONES), "`endpoints` must have exactly the keys primary, standby"),
        (DnsWiring(endpoints=ENDPOINTS, alias_zone_ids={"standby": "Z1"}), "`alias_zone_ids` must have exactly the keys"),
        (DnsWiring(endpoints=ENDPOINTS, alias_zone_ids=ZONES, routing_health_check_ids={"primary": "hc"}),
         "`routing_health_check_ids` must have exactly the keys primary, standby"),
        # Internal endpoints get no HTTP checks (Route 53's checkers cannot reach them): something else must steer.
        (DnsWiring(endpoints=ENDPOINTS, alias_zone_ids=ZONES, probe_endpoints=False),
         "`probe_endpoints=False` needs `routing_health_check_ids`"),
    ],
)
def test_wiring_that_leaves_records_unsteered_is_refused(wiring, message):
    assert any(message in p for p in dns_wiring_problems(wiring))


def test_valid_wirings_have_no_problems():
    assert dns_wiring_problems(DnsWiring(endpoints=ENDPOINTS, alias_zone_ids=ZONES)) == []
    assert dns_wiring_problems(DnsWiring(endpoints=ENDPOINTS, alias_zone_ids=ZONES, probe_endpoints=False,
                                         routing_health_check_ids={"primary": "hc-1", "standby": "hc-2"})) == []
