"""The candidate's share of a region's traffic: the weights of its forward rules (ELB ModifyRule).

Each route rule forwards to two target groups, stable first, canary second (the front door's
`weighted_forward`). A share of p % is the weights (100 - p, p); at rest the canary's weight is 0.
ModifyRule replaces a rule's actions as a whole (ELB API reference, ModifyRule: "the actions"), so
the tool writes the whole forward action it reads, with new weights only. Every write is read
back: a share is moved only once DescribeRules says so.

Weights are checked against what ELB accepts before any call (`policy.rules.balancer`: at most 5
target groups, weights 0 to 999, one above 0); moto accepts anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from recsys_dr.operations.release.tier import TierRegion
from recsys_dr.policy.rules.balancer import forward_weight_problems

PERCENT = 100


class WeightsError(RuntimeError):
    """A rule is not in the shape the release moves, or a write did not take."""


def share_weights(percent: int) -> tuple[int, int]:
    """(stable, canary) weights for a canary share of `percent` %."""
    if not 0 <= percent <= PERCENT:
        raise WeightsError(f"a share is 0 to {PERCENT} %. Received: {percent}")
    weights = (PERCENT - percent, percent)
    problems = forward_weight_problems([("stable", weights[0]), ("canary", weights[1])])
    if problems:
        raise WeightsError("; ".join(problems))
    return weights


def share_of(stable_weight: int, canary_weight: int) -> float:
    """The canary's share in percent: ELB splits in proportion to the weights."""
    total = stable_weight + canary_weight
    return 0.0 if total == 0 else 100.0 * canary_weight / total


@dataclass(frozen=True)
class RuleShare:
    rule_arn: str
    stable_weight: int
    canary_weight: int

    @property
    def percent(self) -> float:
        return share_of(self.stable_weight, self.canary_weight)


def _forward(rule: dict, region: TierRegion) -> dict:
    forwards = [a for a in rule.get("Actions", []) if a.get("Type") == "forward"]
    groups = (forwards[0].get("ForwardConfig") or {}).get("TargetGroups") if forwards else None
    arns = [g.get("TargetGroupArn") for g in groups or []]
    if arns != [region.stable_group_arn, region.canary_group_arn]:
        raise WeightsError(f"rule {rule.get('RuleArn')} in {region.region} does not forward to the stable and the canary "
                           f"target group ({', '.join(map(str, arns)) or 'no weighted forward action'}): re-export the outputs")
    return forwards[0]


def read_shares(elbv2: Any, region: TierRegion) -> list[RuleShare]:
    """The canary's weight on each route rule of `region`, as ELB has it now."""
    rules = elbv2.describe_rules(RuleArns=list(region.rule_arns))["Rules"]
    found = []
    for rule in rules:
        groups = _forward(rule, region)["ForwardConfig"]["TargetGroups"]
        found.append(RuleShare(rule["RuleArn"], int(groups[0].get("Weight", 1)), int(groups[1].get("Weight", 1))))
    return found


def region_share(shares: list[RuleShare]) -> float | None:
    """One share when every rule agrees, else None (a move interrupted between two rules)."""
    percents = {round(share.percent, 3) for share in shares}
    return percents.pop() if len(percents) == 1 else None


def set_share(elbv2: Any, region: TierRegion, percent: int) -> list[RuleShare]:
    """Give the canary `percent` % of `region`'s traffic on every route rule; return what ELB reads back."""
    stable_weight, canary_weight = share_weights(percent)
    for rule in elbv2.describe_rules(RuleArns=list(region.rule_arns))["Rules"]:
        action = _forward(rule, region)
        config = dict(action["ForwardConfig"])
        config["TargetGroups"] = [{"TargetGroupArn": region.stable_group_arn, "Weight": stable_weight},
                                  {"TargetGroupArn": region.canary_group_arn, "Weight": canary_weight}]
        new = {"Type": "forward", "ForwardConfig": config}
        if "Order" in action:
            new["Order"] = action["Order"]
        elbv2.modify_rule(RuleArn=rule["RuleArn"], Actions=[new])
    after = read_shares(elbv2, region)
    if any((s.stable_weight, s.canary_weight) != (stable_weight, canary_weight) for s in after):
        raise WeightsError(f"{region.region}: ELB reads back {[(s.stable_weight, s.canary_weight) for s in after]} "
                           f"after setting ({stable_weight}, {canary_weight})")
    return after


def manual_commands(region: TierRegion, percent: int = 0) -> list[str]:
    """The AWS CLI commands that set `percent` by hand (printed when a rollback is not confirmed)."""
    stable_weight, canary_weight = share_weights(percent)
    action = ('[{"Type":"forward","ForwardConfig":{"TargetGroups":['
              f'{{"TargetGroupArn":"{region.stable_group_arn}","Weight":{stable_weight}}},'
              f'{{"TargetGroupArn":"{region.canary_group_arn}","Weight":{canary_weight}}}]}}}}]')
    return [f"aws elbv2 modify-rule --region {region.region} --rule-arn {arn} --actions '{action}'" for arn in region.rule_arns]
