"""What a release moves: a serving tier, its regions, and each region's pins, groups and rules.

A tier is one set of serving endpoints with one model: the GPU tier of the primary/standby pair
(`regions.<role>` of the stack outputs), or the CPU fallback tier behind them (`fallback`: one
region, the standby's, serving `models/<model>-fallback/` under the model's name). The release
flow only sees `Tier` and `TierRegion`, so both go through the same gates (`TIER_READERS`).

A region either takes production traffic (the primary; the candidate gets a share of it, step by
step) or does not (a warm standby in an active/passive pair: the candidate is proven there by
golden requests through its live endpoint, then given the whole of the traffic the region
would get on a failover). A pilot-light standby runs no pods: its pin moves with the promotion,
and the release only checks that its bucket holds the candidate's verified files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from recsys_dr.operations.outputs import ModelPin, RegionOutputs, StackOutputs

GPU_TIER, FALLBACK_TIER = "gpu", "fallback"
# CloudWatch's ALB dimensions are the tails of the ARNs: LoadBalancer `app/<name>/<id>` and
# TargetGroup `targetgroup/<name>/<id>` (Elastic Load Balancing User Guide, "CloudWatch metrics
# for your Application Load Balancer", metric dimensions).
LOAD_BALANCER_MARK = ":loadbalancer/"
TARGET_GROUP_MARK = ":targetgroup/"


class TierError(ValueError):
    """The outputs do not describe a tier a release can move (one line, names the key)."""


def load_balancer_dimension(arn: str) -> str:
    if LOAD_BALANCER_MARK not in arn:
        raise TierError(f"not a load balancer ARN: {arn!r}")
    return arn.split(LOAD_BALANCER_MARK, 1)[1]


def target_group_dimension(arn: str) -> str:
    if TARGET_GROUP_MARK not in arn:
        raise TierError(f"not a target group ARN: {arn!r}")
    return "targetgroup/" + arn.split(TARGET_GROUP_MARK, 1)[1]


@dataclass(frozen=True, kw_only=True)
class TierRegion:
    """One region of a tier, as the release tool needs it (plain values from the outputs)."""

    role: str
    region: str
    endpoint: str
    scheme: str
    bucket: str
    load_balancer_arn: str
    stable_group_arn: str
    canary_group_arn: str
    rule_arns: tuple[str, ...]
    candidate_header: str
    stable: ModelPin
    candidate: ModelPin | None
    takes_traffic: bool
    runs_pods: bool
    cluster_name: str
    namespace: str
    deployment_name: str

    @property
    def load_balancer(self) -> str:
        return load_balancer_dimension(self.load_balancer_arn)


@dataclass(frozen=True, kw_only=True)
class Tier:
    name: str
    environment: str
    model_name: str
    server_name: str  # the record name: what the balancers' certificates are for
    regions: dict[str, TierRegion]
    lock_bucket: str  # the primary's model bucket holds the release record
    lock_region: str
    artifact_name: str = ""  # the versions' name in the bucket and manifests, when not `model_name`
    candidate_key: str = "model.candidate"  # the stack-file key that pins the candidate

    @property
    def bucket_model_name(self) -> str:
        return self.artifact_name or self.model_name

    def release_order(self) -> list[TierRegion]:
        """Regions without production traffic first (golden requests prove them), then the rest."""
        return sorted(self.regions.values(), key=lambda r: (r.takes_traffic, r.role))


def _missing(door, pin) -> list[str]:
    """What a release needs of a tier's front door and pin that older outputs lack."""
    missing = [] if door else ["frontDoor"]
    if door is not None:
        missing += [key for key, value in (("frontDoor.canaryTargetGroupArn", door.canary_target_group_arn),
                                           ("frontDoor.ruleArns", door.rule_arns),
                                           ("frontDoor.candidateHeader", door.candidate_header)) if not value]
    return missing + ([] if pin is not None else ["model"])


def _refuse(path: str, missing: list[str]) -> None:
    if missing:
        raise TierError(f"`{path}` lacks {', '.join(missing)}: re-export the outputs of a stack "
                        "whose front door has a canary target group (`pulumi stack output --json`)")


def _gpu_region(outputs: StackOutputs, region: RegionOutputs) -> TierRegion:
    door = region.front_door
    _refuse(f"regions.{region.role}", _missing(door, region.pin))
    return TierRegion(
        role=region.role, region=region.region, endpoint=region.endpoint, scheme=door.scheme, bucket=region.bucket,
        load_balancer_arn=door.load_balancer_arn, stable_group_arn=door.target_group_arn,
        canary_group_arn=door.canary_target_group_arn, rule_arns=door.rule_arns, candidate_header=door.candidate_header,
        stable=region.pin, candidate=region.candidate,
        takes_traffic=region.role == "primary",
        runs_pods=not (region.role == "standby" and outputs.standby_mode == "pilot-light"),
        cluster_name=region.cluster_name, namespace=region.namespace, deployment_name=region.deployment_name,
    )


def gpu_tier(outputs: StackOutputs) -> Tier:
    """The primary/standby GPU tier of the stack outputs."""
    return Tier(name=GPU_TIER, environment=outputs.environment, model_name=outputs.model_name,
                server_name=outputs.dns.record_name.rstrip("."),
                regions={role: _gpu_region(outputs, region) for role, region in outputs.regions.items()},
                lock_bucket=outputs.primary.bucket, lock_region=outputs.primary.region)


def fallback_tier(outputs: StackOutputs) -> Tier:
    """The CPU fallback tier: one region that takes no traffic while a GPU tier is healthy, so it is
    proven like a warm standby (golden requests by header, then the whole of its traffic), on the
    standby's cluster; its release record sits beside the GPU tier's in the primary's bucket."""
    fallback = outputs.fallback
    if fallback is None:
        raise TierError("these outputs have no `fallback`: the stack has no fallback tier to release")
    door = fallback.front_door
    _refuse("fallback", _missing(door, fallback.pin))
    region = TierRegion(
        role=fallback.role, region=fallback.region, endpoint=fallback.endpoint, scheme=door.scheme, bucket=fallback.bucket,
        load_balancer_arn=door.load_balancer_arn, stable_group_arn=door.target_group_arn,
        canary_group_arn=door.canary_target_group_arn, rule_arns=door.rule_arns, candidate_header=door.candidate_header,
        stable=fallback.pin, candidate=fallback.candidate, takes_traffic=False, runs_pods=True,
        cluster_name=outputs.standby.cluster_name, namespace=fallback.namespace, deployment_name=fallback.deployment_name,
    )
    return Tier(name=FALLBACK_TIER, environment=outputs.environment, model_name=fallback.served_as,
                server_name=outputs.dns.record_name.rstrip("."), regions={region.role: region},
                lock_bucket=outputs.primary.bucket, lock_region=outputs.primary.region,
                artifact_name=fallback.model_name, candidate_key="fallback.candidate")


# Tier name -> reader of the outputs.
TIER_READERS: dict[str, Callable[[StackOutputs], Tier]] = {GPU_TIER: gpu_tier, FALLBACK_TIER: fallback_tier}


def read_tier(outputs: StackOutputs, name: str) -> Tier:
    if name not in TIER_READERS:
        raise TierError(f"--tier must be one of: {', '.join(TIER_READERS)}. Received: {name!r}")
    return TIER_READERS[name](outputs)
