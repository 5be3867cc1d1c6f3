"""Checks shared by component args and stack config: each returns problem strings.

A check never raises; callers collect every problem and raise once, so a user sees all
that is wrong in one run. Messages name the key, the value received and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pulumi

from recsys_dr.components.cluster.instances import gpu_family

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
HEALTH_CHECK_INTERVALS = (10, 30)
MAX_RECORD_TTL = 60
STANDBY_MODES = ("warm", "pilot-light")
FAILOVER_CONTROLS = ("health-check", "arc")
# TF Serving model names become URL path segments, directory names and Kubernetes label
# values (which must start and end with a letter or digit).
MODEL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
ACM_ARN_PATTERN = re.compile(r"^arn:aws[a-z-]*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[0-9a-f-]{36}$")
DNS_NAME_PATTERN = re.compile(r"^(?=.{1,253}\.?$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}\.?$")


def _closed_set(values: Sequence) -> str:
    return ", ".join(str(v) for v in sorted(values))


def region_problems(key: str, region: object) -> list[str]:
    if region not in KNOWN_REGIONS:
        return [f"`{key}` must be an AWS region with EKS, one of: {_closed_set(KNOWN_REGIONS)}. Received: {region!r}"]
    return []


def region_pair_problems(primary_key: str, primary: object, standby_key: str, standby: object) -> list[str]:
    problems = region_problems(primary_key, primary) + region_problems(standby_key, standby)
    if not problems and primary == standby:
        problems.append(
            f"`{standby_key}` must differ from `{primary_key}`: a standby in the same region "
            f"does not survive a regional outage. Received: {primary_key}={primary}, {standby_key}={standby}"
        )
    return problems


def gpu_instance_problems(key: str, instance_types: object) -> list[str]:
    if not isinstance(instance_types, (list, tuple)) or not instance_types:
        return [f"`{key}` must be a non-empty list of NVIDIA GPU instance types, for example [g5.xlarge]. Received: {instance_types!r}"]
    problems = []
    architectures = set()
    for instance_type in instance_types:
        family = gpu_family(instance_type) if isinstance(instance_type, str) else None
        if family is None:
            problems.append(
                f"`{key}` must contain only NVIDIA GPU instance types (families g4dn, g5, g5g, g6, g6e, gr6, "
                f"p3, p3dn, p4d, p4de, p5, p5e, p5en, p6-b200). Received: {instance_type!r}"
            )
        else:
            architectures.add(family.architecture)
    if len(architectures) > 1:
        problems.append(f"`{key}` mixes x86_64 and arm64 GPU instance types; one node group has one AMI. Received: {list(instance_types)}")
    return problems


def scaling_problems(prefix: str, min_size: object, desired_size: object, max_size: object, *, allow_zero_min: bool = True) -> list[str]:
    sizes = {"minSize": min_size, "desiredSize": desired_size, "maxSize": max_size}
    problems = [
        f"`{prefix}.{name}` must be a non-negative integer. Received: {value!r}"
        for name, value in sizes.items()
        if isinstance(value, bool) or not isinstance(value, int) or value < 0
    ]
    if problems:
        return problems
    if max_size < 1:
        problems.append(f"`{prefix}.maxSize` must be >= 1. Received: maxSize={max_size}")
    if min_size > max_size:
        problems.append(f"`{prefix}.minSize` must be <= `{prefix}.maxSize`. Received: minSize={min_size}, maxSize={max_size}")
    elif not min_size <= desired_size <= max_size:
        problems.append(
            f"`{prefix}.desiredSize` must be between minSize and maxSize. "
            f"Received: minSize={min_size}, desiredSize={desired_size}, maxSize={max_size}"
        )
    if not allow_zero_min and min_size == 0:
        problems.append(f"`{prefix}.minSize` must be >= 1 here. Received: minSize=0")
    return problems


def health_check_problems(prefix: str, interval: object, failure_threshold: object, ttl: object, checker_regions: object) -> list[str]:
    problems = []
    if interval not in HEALTH_CHECK_INTERVALS or isinstance(interval, bool):
        problems.append(f"`{prefix}.healthCheckInterval` must be one of: {_closed_set(HEALTH_CHECK_INTERVALS)}. Received: {interval!r}")
    if isinstance(failure_threshold, bool) or not isinstance(failure_threshold, int) or not 1 <= failure_threshold <= 10:
        problems.append(f"`{prefix}.failureThreshold` must be an integer from 1 to 10. Received: {failure_threshold!r}")
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 < ttl <= MAX_RECORD_TTL:
        problems.append(f"`{prefix}.ttl` must be an integer from 1 to {MAX_RECORD_TTL} seconds. Received: {ttl!r}")
    if checker_regions is not None:
        if not isinstance(checker_regions, (list, tuple)) or len(set(checker_regions)) < 3:
            problems.append(f"`{prefix}.checkerRegions` must list at least 3 distinct Route 53 checker regions. Received: {checker_regions!r}")
        else:
            unknown = [r for r in checker_regions if r not in HEALTH_CHECKER_REGIONS]
            if unknown:
                problems.append(
                    f"`{prefix}.checkerRegions` must be among: {_closed_set(HEALTH_CHECKER_REGIONS)}. Received: {unknown}"
                )
    return problems


def model_problems(prefix: str, name: object, version: object) -> list[str]:
    problems = []
    if not isinstance(name, str) or not MODEL_NAME_PATTERN.match(name):
        problems.append(
            f"`{prefix}.name` must be 1-63 characters of letters, digits, '_', '.', '-', starting and ending with a "
            f"letter or digit (TF Serving uses it in URLs and paths, Kubernetes in labels). Received: {name!r}"
        )
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        problems.append(f"`{prefix}.version` must be a positive integer (a TF Serving version directory). Received: {version!r}")
    return problems


def dns_name_problems(key: str, name: object) -> list[str]:
    if not isinstance(name, str) or not DNS_NAME_PATTERN.match(name):
        return [f"`{key}` must be a lower-case DNS name such as recs.shop.example.com. Received: {name!r}"]
    return []


def certificate_problems(key: str, arn: object, region: str) -> list[str]:
    """An ACM certificate must live in the region of the load balancer that presents it."""
    if arn is None:
        return []
    match = ACM_ARN_PATTERN.match(arn) if isinstance(arn, str) else None
    if match is None:
        return [f"`{key}` must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>). Received: {arn!r}"]
    if match.group("region") != region:
        return [f"`{key}` must be a certificate in {region} (ACM certificates are regional). Received: {arn}"]
    return []


def choice_problems(key: str, value: object, allowed: Sequence[str]) -> list[str]:
    if value not in allowed:
        return [f"`{key}` must be one of: {', '.join(allowed)}. Received: {value!r}"]
    return []


def raise_if_problems(subject: str, problems: list[str]) -> None:
    """Raise one InputPropertiesError listing every problem, or return if there are none."""
    if problems:
        details = [pulumi.InputPropertyErrorDetails(property_path=_key_of(p), reason=p) for p in problems]
        raise pulumi.InputPropertiesError(
            f"Invalid {subject}:\n" + "\n".join(f"  - {p}" for p in problems), errors=details
        )


def _key_of(problem: str) -> str:
    match = re.match(r"`([^`]+)`", problem)
    return match.group(1) if match else ""
