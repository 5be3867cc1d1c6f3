"""How much of the internet a list of CIDRs admits: judged by what it covers once merged, not by
how it is spelt (`[0.0.0.0/1, 128.0.0.0/1]` is `0.0.0.0/0`).

The one home of this rule: the settings validators (`serving.allowedCidrs`,
`cluster.publicAccessCidrs`), the stack checks of production stacks and the policy rules
(`eks-api-*`, `k8s-lb-source-ranges`, `ec2-sg-no-world-ingress`) all call `coverage`.
Standard library only, like the rest of the rules package (the policy pack's venv has nothing
of this project).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["MAX_PUBLIC_SHARE", "MAX_PUBLIC_SHARE_TEXT", "NOT_PUBLIC", "Coverage", "coverage", "percent", "public_space"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The largest share of the public address space (of either family) one allow-list may cover:
# 0.1 %, about 3.7 million IPv4 addresses, between a /11 and a /10. An allow-list names its
# callers' egress ranges (offices, NAT gateways, partners: /32s to a few /16s); a list wider
# than this admits a slice of the internet, such as a cloud provider's region, where anyone can
# rent an address.
MAX_PUBLIC_SHARE = 0.001

# Addresses no internet host can connect from. IPv4: the IANA IPv4 Special-Purpose Address
# Registry's blocks with "Globally Reachable: False" (RFC 6890 and updates; 192.0.0.0/24 whole,
# although two /32s in it are reachable), multicast 224.0.0.0/4 (RFC 5771) and 240.0.0.0/4
# (reserved, RFC 1112). IPv6: everything outside global unicast 2000::/3 (IANA IPv6 Address
# Space registry), the IETF protocol assignments 2001::/23 and the documentation prefix
# 2001:db8::/32 (IANA IPv6 Special-Purpose Address Registry).
NOT_PUBLIC: dict[int, tuple[str, ...]] = {
    4: ("0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
        "224.0.0.0/4", "240.0.0.0/4"),
    6: ("::/3", "4000::/2", "8000::/1", "2001::/23", "2001:db8::/32"),
}


@functools.cache
def public_space(version: int) -> tuple[Network, ...]:
    """The public address space of IP `version` as disjoint blocks (everything minus `NOT_PUBLIC`)."""
    space = [ipaddress.ip_network("0.0.0.0/0" if version == 4 else "::/0")]
    for hole in ipaddress.collapse_addresses(ipaddress.ip_network(block) for block in NOT_PUBLIC[version]):
        space = [part for block in space
                 for part in (block.address_exclude(hole) if hole.subnet_of(block) else [block])]
    return tuple(ipaddress.collapse_addresses(space))


def _parsed(cidrs: Iterable[Any]) -> list[Network]:
    networks = []
    for cidr in cidrs:
        try:
            networks.append(ipaddress.ip_network(str(cidr).strip(), strict=False))
        except ValueError:
            continue  # not a CIDR: the settings refuse it, and a rule has nothing to measure
    return networks


def _overlap(block: Network, space: Iterable[Network]) -> list[Network]:
    """The parts of `block` inside `space` (CIDR blocks either nest or are disjoint)."""
    parts: list[Network] = []
    for public in space:
        if block.subnet_of(public):
            return [block]
        if public.subnet_of(block):
            parts.append(public)
    return parts


@dataclass(frozen=True)
class Coverage:
    """What a list of CIDRs admits.

    Attributes:
        merged: the list merged per family (`ipaddress.collapse_addresses`), as text.
        public: the public blocks it covers (its merged blocks cut to the public space).
        share: the largest share of one family's public space it covers, 0 to 1.
    """

    merged: tuple[str, ...]
    public: tuple[str, ...]
    share: float

    @property
    def too_open(self) -> bool:
        return self.share > MAX_PUBLIC_SHARE

    def describe(self) -> str:
        """E.g. "100 % of the public IP space once merged (0.0.0.0/0)"."""
        return f"{percent(self.share)} of the public IP space once merged ({_listed(self.merged)})"

    def public_text(self) -> str:
        """The public blocks covered, the first few of them."""
        return _listed(self.public)


def _listed(blocks: tuple[str, ...], limit: int = 4) -> str:
    more = len(blocks) - limit
    return ", ".join(blocks[:limit]) + (f" and {more} more blocks" if more > 0 else "")


def percent(share: float) -> str:
    return f"{share * 100:.3g} %"


def coverage(cidrs: Iterable[Any]) -> Coverage:
    """Merge `cidrs` and measure the public address space they cover; entries that are not
    CIDRs are skipped."""
    networks = _parsed(cidrs)
    merged: list[Network] = []
    public: list[Network] = []
    share = 0.0
    for version in (4, 6):
        family = list(ipaddress.collapse_addresses(n for n in networks if n.version == version))
        space = public_space(version)
        covered = [part for block in family for part in _overlap(block, space)]
        merged += family
        public += covered
        total = sum(block.num_addresses for block in space)
        share = max(share, sum(block.num_addresses for block in covered) / total)
    return Coverage(merged=tuple(map(str, merged)), public=tuple(map(str, public)), share=share)


MAX_PUBLIC_SHARE_TEXT = percent(MAX_PUBLIC_SHARE)
