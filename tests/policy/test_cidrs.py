"""CIDR lists are judged by what they cover once merged (policy/rules/cidrs.py), the one rule the
settings, the stack checks and the policy rules share."""

from __future__ import annotations

import ipaddress

import pytest

from recsys_dr.policy.rules.cidrs import NOT_PUBLIC, coverage, public_space


def test_public_ipv4_space_is_everything_but_the_special_purpose_blocks():
    # 2^32 less the IANA special-purpose blocks that are not globally reachable, multicast and 240/4.
    assert sum(block.num_addresses for block in public_space(4)) == 3_702_258_688


@pytest.mark.parametrize("version", [4, 6])
def test_public_space_agrees_with_pythons_is_global(version):
    # An independent reading of the same IANA registries: CPython's ipaddress `is_global`.
    for block in public_space(version):
        assert block.network_address.is_global and block.broadcast_address.is_global, block
    # Except multicast (no TCP peer) and unallocated IPv6 outside 2000::/3, which `is_global`
    # counts as global because its table lists special-purpose blocks only.
    for block in set(NOT_PUBLIC[version]) - {"224.0.0.0/4", "4000::/2", "8000::/1"}:
        assert not ipaddress.ip_network(block).network_address.is_global, block


@pytest.mark.parametrize("cidrs", [["0.0.0.0/0"], ["0.0.0.0/1", "128.0.0.0/1"],
                                   ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"], ["::/0"], ["::/1", "8000::/1"]])
def test_the_whole_internet_however_spelt(cidrs):
    covered = coverage(cidrs)
    assert covered.share == 1.0 and covered.too_open
    assert covered.merged in (("0.0.0.0/0",), ("::/0",))


def test_merging_is_what_collapse_addresses_does():
    assert coverage(["203.0.113.128/25", "203.0.113.0/25", "10.0.0.0/8", "10.1.0.0/16"]).merged == ("10.0.0.0/8", "203.0.113.0/24")


@pytest.mark.parametrize(("cidrs", "too_open"), [
    (["1.0.0.0/11"], False),  # 2,097,152 addresses: 0.057 %
    (["1.0.0.0/10"], True),   # 4,194,304 addresses: 0.113 %
    (["1.0.0.0/11", "1.32.0.0/11"], True),  # two halves of the /10
    (["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10"], False),  # no public address at all
])
def test_threshold_is_a_share_of_the_public_space(cidrs, too_open):
    assert coverage(cidrs).too_open is too_open


def test_public_blocks_leave_out_what_no_internet_host_connects_from():
    assert coverage(["10.0.0.0/8", "8.8.8.8/32", "203.0.113.0/24"]).public == ("8.8.8.8/32",)
    assert coverage(["192.168.0.0/15"]).public == ("192.169.0.0/16",)


def test_entries_that_are_not_cidrs_are_skipped():
    assert coverage(["corp", "", "8.8.8.0/24"]).merged == ("8.8.8.0/24",)
