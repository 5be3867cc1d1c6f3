"""What AWS and Kubernetes refuse, as data: each table cites where its rule comes from.

Checked at plan time so that a stack file AWS would refuse fails before any resource exists.
"""

from __future__ import annotations

import ipaddress
import re

# Commercial AWS regions with EKS and Route 53 health checkers; opt-in regions included.
KNOWN_REGIONS = frozenset({
    "af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3",
    "ap-southeast-4", "ap-southeast-5", "ap-southeast-7", "ca-central-1", "ca-west-1",
    "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
    "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1",
    "sa-east-1", "us-east-1", "us-east-2", "us-west-1", "us-west-2",
})
# The regions Route 53 health checkers run from (HealthCheck.regions accepts these only).
HEALTH_CHECKER_REGIONS = frozenset({
    "us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1",
    "ap-southeast-2", "ap-northeast-1", "sa-east-1",
})
HEALTH_CHECK_INTERVALS = (10, 30)  # Route 53 RequestInterval: 10 or 30 (API reference, HealthCheckConfig)
MAX_FAILURE_THRESHOLD = 10  # Route 53 FailureThreshold: 1-10 (API reference, HealthCheckConfig)
# The longest TTL a failover record may have is a policy rule: `policy/rules/dns.py` MAX_FAILOVER_TTL.
# An alias record to an Elastic Load Balancing load balancer takes the balancer's TTL, fixed at
# 60 s: "To configure DNS Failover for ELB ... endpoints, you need to use Alias records which
# have fixed TTL of 60 seconds" (Route 53 FAQ); an alias record has no TTL of its own (Route 53
# API reference, ResourceRecordSet: "If you're creating or updating an alias resource record set,
# omit TTL").
ALIAS_RECORD_TTL = 60

# VPC blocks: AWS accepts IPv4 /16 to /28 (Amazon VPC user guide, "VPC CIDR blocks"); /20 is ours:
# `network.subnet_cidrs` gives each private subnet a quarter of the block (a /22, 1,024 addresses, at
# /20), and under the VPC CNI every pod takes one of them.
VPC_PREFIX_LENGTHS = range(16, 21)
VPC_CIDR_ALLOWED = f"an IPv4 CIDR from /{VPC_PREFIX_LENGTHS[0]} to /{VPC_PREFIX_LENGTHS[-1]}"

# Kubernetes versions EKS creates clusters with on 2026-12-01, standard or extended support
# (EKS user guide "Kubernetes version lifecycle": 14 months standard + 12 months extended;
# release calendar: 1.31 extended support ended 2026-11-26, 1.32 ends 2027-03-23).
EKS_KUBERNETES_VERSIONS = ("1.32", "1.33", "1.34", "1.35", "1.36")
# Past standard support on that date (1.32 ended 2026-03-23, 1.33 2026-07-29): EKS bills the
# control plane at the extended-support rate (six times the standard one).
EKS_EXTENDED_SUPPORT_VERSIONS = ("1.32", "1.33")

# EKS service quota "Nodes per managed node group" (L-BD136A63), default 450
# (EKS user guide, "Amazon EKS service quotas"; NodegroupScalingConfig.maxSize refers to it).
MAX_NODES_PER_NODE_GROUP = 450

# AWS tag rules (Tagging AWS resources, "Tag naming limits and requirements"): at most 50 user
# tags per resource, keys 1-128 and values 0-256 Unicode characters, the `aws:` prefix is
# reserved, characters: letters, digits, spaces and _ . : / = + - @.
MAX_TAGS = 50
MAX_TAG_KEY_LENGTH = 128
MAX_TAG_VALUE_LENGTH = 256
TAG_PATTERN = re.compile(r"^[\w .:/=+\-@]*$", re.UNICODE)
RESERVED_TAG_PREFIX = "aws:"

ACM_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[0-9a-f-]{36}$")
SNS_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:sns:(?P<region>[a-z0-9-]+):\d{12}:[A-Za-z0-9_-]{1,256}$")
# RFC 1123 host names, lower case (Route 53 stores names in lower case).
DNS_NAME_PATTERN = re.compile(r"^(?=.{1,253}\.?$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$")
# TF Serving model names become URL path segments, directory names and Kubernetes label
# values (which must start and end with a letter or digit, at most 63 characters).
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
# Kubernetes quantities (apimachinery resource.Quantity), the forms this project accepts.
CPU_QUANTITY = re.compile(r"^\d+(\.\d+)?m?$")
MEMORY_QUANTITY = re.compile(r"^\d+(Ki|Mi|Gi|Ti|K|M|G|T)?$")


def vpc_cidr_problems(key: str, vpc_cidr: object) -> list[str]:
    """The one check of a VPC block (settings, `Network`, `GpuCluster`): IPv4, /16 to /20."""
    try:
        network = ipaddress.ip_network(vpc_cidr)
        if network.version == 4 and network.prefixlen in VPC_PREFIX_LENGTHS:
            return []
    except (TypeError, ValueError):
        pass
    return [f"`{key}` must be {VPC_CIDR_ALLOWED}. Received: {vpc_cidr!r}"]


def closed_set(values) -> str:
    return ", ".join(str(v) for v in sorted(values))


def cpu_millicores(quantity: str) -> int:
    """Example: `cpu_millicores("1500m") == 1500`, `cpu_millicores("3") == 3000`."""
    return int(quantity[:-1]) if quantity.endswith("m") else int(float(quantity) * 1000)


_MEMORY_UNITS = {"": 1, "K": 1000, "M": 1000**2, "G": 1000**3, "T": 1000**4,
                 "Ki": 1024, "Mi": 1024**2, "Gi": 1024**3, "Ti": 1024**4}


def memory_bytes(quantity: str) -> int:
    """Example: `memory_bytes("12Gi") == 12 * 1024**3`."""
    number, unit = re.fullmatch(r"(\d+)([A-Za-z]*)", quantity).groups()
    return int(number) * _MEMORY_UNITS[unit]


def tag_problems(key: str, tags: dict[str, str], *, reserved: int = 0) -> list[str]:
    """AWS tag rules; `reserved` tags are added by the components themselves."""
    problems = []
    if len(tags) + reserved > MAX_TAGS:
        problems.append(
            f"`{key}` must hold at most {MAX_TAGS - reserved} tags (AWS allows {MAX_TAGS} per resource; "
            f"recsys-dr adds {reserved}). Received: {len(tags)} tags"
        )
    for name, value in tags.items():
        if name.lower().startswith(RESERVED_TAG_PREFIX):
            problems.append(f"`{key}.{name}` must not start with `aws:` (AWS reserves that prefix). Received: {name!r}")
        if not 1 <= len(name) <= MAX_TAG_KEY_LENGTH or not TAG_PATTERN.match(name):
            problems.append(
                f"`{key}` keys must be 1-{MAX_TAG_KEY_LENGTH} characters of letters, digits, spaces and _ . : / = + - @. "
                f"Received: {name[:40]!r}{'...' if len(name) > 40 else ''} ({len(name)} characters)"
            )
        if len(value) > MAX_TAG_VALUE_LENGTH or not TAG_PATTERN.match(value):
            problems.append(
                f"`{key}.{name[:40]}` must be at most {MAX_TAG_VALUE_LENGTH} characters of letters, digits, spaces "
                f"and _ . : / = + - @. Received: {value[:40]!r}{'...' if len(value) > 40 else ''} ({len(value)} characters)"
            )
    return problems
