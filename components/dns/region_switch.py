"""RegionSwitch: an ARC Region switch plan that scales the standby's serving and moves traffic.

One `activate` workflow serves both directions (the execution names the Region to activate):
an optional manual approval, then the EKS resource scaling block raises the activated
Region's TF Serving Deployment to 100 % of what the other Region ran over the last 24 hours
(Cluster Autoscaler adds the GPU nodes the new pods ask for), then the Route 53 health check
block flips the plan-managed health checks that steer the failover records.

The plan document, the execution role's policy and the block layout are plain functions,
tested without the Pulumi runtime. Region switch is billed per plan (see docs/runbook.md,
"What ARC costs").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from recsys_dr.components.dns.failover_records import ROLES
from recsys_dr.components.iam import service_trust_policy
from recsys_dr.components.settings.base import raise_if_problems, region_problems

SERVICE_PRINCIPAL = "arc-region-switch.amazonaws.com"
# The EKS access policy Region switch's scaling block needs; plan evaluation checks for this one
# (ARC developer guide, "Amazon EKS resource scaling execution block").
SCALING_ACCESS_POLICY_ARN = "arn:aws:eks::aws:cluster-access-policy/AmazonARCRegionSwitchScalingPolicy"
# The only approach the API accepts for EKS (API_EksResourceScalingConfiguration: Valid Values).
CAPACITY_MONITORING_APPROACH = "sampledMaxInLast24Hours"
TARGET_PERCENT = 100
APPROVAL_STEP = "approve-failover"
SCALING_STEP = "scale-serving"
TRAFFIC_STEP = "move-traffic"
# botocore arc-region-switch service model: PlanName and IamRoleArn patterns.
PLAN_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,30}[a-zA-Z0-9])?")
ROLE_ARN_PATTERN = re.compile(r"arn:aws[a-zA-Z0-9-]*:iam::[0-9]{12}:role/.+")


@dataclass(frozen=True, kw_only=True)
class RegionSwitchTarget:
    """What the plan scales in one Region (Outputs of the cluster and serving components).

    Attributes:
        region: the cluster's Region.
        cluster_name / cluster_arn: the EKS cluster.
        namespace / deployment_name / hpa_name: the TF Serving Deployment and its HPA.
    """

    region: str
    cluster_name: pulumi.Input[str]
    cluster_arn: pulumi.Input[str]
    namespace: str
    deployment_name: str
    hpa_name: str


@dataclass(frozen=True, kw_only=True)
class RegionSwitchArgs:
    """Arguments of `RegionSwitch`.

    Attributes:
        plan_name: unique in the account (1-32 characters of letters, digits, `-`).
        targets: per role ("primary"/"standby") what to scale.
        zone_id / record_name: the hosted zone and name of the failover records.
        record_set_identifiers: set identifier of each role's failover record. Default the role
            names, which is what `DnsFailover` writes. Region switch cannot map these to Regions
            by itself (it looks for a Region name in the identifier or value), so they are
            always given.
        approval_role_arn: role a human assumes to approve an execution; adds a ManualApproval
            step before anything changes. Default none (no approval step).
        approval_timeout_minutes: how long an execution waits for approval. Default 60.
        scaling_timeout_minutes: bound of the scaling step (GPU nodes from zero plus model
            load). Default 30.
        recovery_time_objective_minutes: the plan's RTO, reported beside each execution.
            Default none.
        after: resources the plan is created after, e.g. the Deployments it scales (plan
            evaluation looks for them). A parent's `depends_on` does not reach the plan. Default none.
        tags: tags on the plan, role and access entries. Default none.
    """

    plan_name: str
    targets: Mapping[str, RegionSwitchTarget]
    zone_id: pulumi.Input[str]
    record_name: str
    record_set_identifiers: Mapping[str, str] = field(default_factory=lambda: {role: role for role in ROLES})
    approval_role_arn: str | None = None
    approval_timeout_minutes: int = 60
    scaling_timeout_minutes: int = 30
    recovery_time_objective_minutes: int | None = None
    after: Sequence[pulumi.Resource] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


def plan_name_for(name: str) -> str:
    """A valid plan name from a component name ("recsys-dev.eu_1" -> "recsys-dev-eu-1", at most 32)."""
    return re.sub(r"[^a-zA-Z0-9]+", "-", name)[:32].strip("-") or "recsys-dr"


def region_switch_problems(args: RegionSwitchArgs) -> list[str]:
    problems = []
    if set(args.targets) != set(ROLES):
        return [f"`targets` must have exactly the keys primary, standby. Received: {sorted(args.targets)}"]
    regions = {role: args.targets[role].region for role in ROLES}
    for role in ROLES:
        problems += region_problems(f"targets.{role}.region", regions[role])
    if regions["primary"] == regions["standby"]:
        problems.append(f"`targets.standby.region` must differ from `targets.primary.region`. Received: {regions['primary']} for both")
    if not PLAN_NAME_PATTERN.fullmatch(args.plan_name):
        problems.append(f"`plan_name` must be 1-32 letters, digits or '-', starting and ending with a letter or digit. Received: {args.plan_name!r}")
    for key in ("approval_timeout_minutes", "scaling_timeout_minutes", "recovery_time_objective_minutes"):
        value = getattr(args, key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            problems.append(f"`{key}` must be a whole number of minutes >= 1. Received: {value!r}")
    if args.approval_role_arn is not None and not ROLE_ARN_PATTERN.fullmatch(args.approval_role_arn):
        problems.append(f"`approval_role_arn` must be an IAM role ARN. Received: {args.approval_role_arn!r}")
    return problems


def plan_workflows(
    args: RegionSwitchArgs, *, cluster_arns: Mapping[str, str], zone_id: str
) -> list[dict]:
    """The plan's workflows (pulumi-aws `arcregionswitch.Plan` input shape).

    One `activate` workflow without a target Region, so the same steps run for a failover and
    a fail-back: the execution names the Region it activates.
    """
    targets = args.targets
    steps = []
    if args.approval_role_arn:
        steps.append({
            "name": APPROVAL_STEP,
            "execution_block_type": "ManualApproval",
            "description": "A human confirms the Region switch before anything changes",
            "execution_approval_configs": [{"approval_role": args.approval_role_arn, "timeout_minutes": args.approval_timeout_minutes}],
        })
    steps.append({
        "name": SCALING_STEP,
        "execution_block_type": "EKSResourceScaling",
        "description": "Scale TF Serving in the activated Region to the other Region's capacity before traffic moves",
        "eks_resource_scaling_configs": [{
            "capacity_monitoring_approach": CAPACITY_MONITORING_APPROACH,
            "target_percent": TARGET_PERCENT,
            "timeout_minutes": args.scaling_timeout_minutes,
            "eks_clusters": [{"cluster_arn": cluster_arns[role]} for role in ROLES],
            "kubernetes_resource_types": [{"api_version": "apps/v1", "kind": "Deployment"}],
            # API shape: [{<application>: {<Region>: resource}}] (inner keys must match the
            # Region pattern, API_EksResourceScalingConfiguration); the provider maps
            # `namespace` to the outer key and `resource_name` to the inner one (expand.go).
            # hpa_name: the HPA Region switch holds; KEDA rebuilds it from the ScaledObject, so the
            # standby ScaledObject's paused scale-in is what keeps the raised Deployment up.
            "scaling_resources": [{
                "namespace": targets["primary"].deployment_name,
                "resources": [
                    {
                        "resource_name": targets[role].region,
                        "name": targets[role].deployment_name,
                        "namespace": targets[role].namespace,
                        "hpa_name": targets[role].hpa_name,
                    }
                    for role in ROLES
                ],
            }],
        }],
    })
    steps.append({
        "name": TRAFFIC_STEP,
        "execution_block_type": "Route53HealthCheck",
        "description": "Flip the plan's health checks so the failover records answer the activated Region",
        "route53_health_check_configs": [{
            "hosted_zone_id": zone_id,
            "record_name": args.record_name,
            "record_sets": [
                {"record_set_identifier": args.record_set_identifiers[role], "region": targets[role].region} for role in ROLES
            ],
        }],
    })
    return [{
        "workflow_target_action": "activate",
        "workflow_description": "Activate a Region: scale its serving to full capacity, then move traffic to it",
        "steps": steps,
    }]


def access_entry_arn_pattern(cluster_arn: str) -> str:
    """`arn:aws:eks:<region>:<account>:access-entry/<cluster>/*` for a cluster ARN."""
    return cluster_arn.replace(":cluster/", ":access-entry/", 1) + "/*"


def execution_role_policy(*, plan_arn: str, role_arn: str, cluster_arns: Mapping[str, str], zone_id: str) -> dict:
    """What the execution role may do: read its own plan, let plan evaluation simulate its own
    policy, read the two clusters and their access entries, and list the records it steers.

    After the ARC developer guide's sample policies (EKS resource scaling and Route 53 health
    check blocks) and the AWS managed policy AmazonApplicationRecoveryControllerRegionSwitch-
    PlanExecutionPolicy, scoped here to this plan, role, clusters and zone. Scaling itself is
    a Kubernetes permission (the access entry), not IAM; the health checks the plan flips are
    managed by Region switch, not by this role.
    """
    clusters = [cluster_arns[role] for role in ROLES]
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadOwnPlan",
                "Effect": "Allow",
                "Action": ["arc-region-switch:GetPlan", "arc-region-switch:GetPlanExecution", "arc-region-switch:ListPlanExecutions"],
                "Resource": plan_arn,
            },
            {"Sid": "PlanEvaluation", "Effect": "Allow", "Action": "iam:SimulatePrincipalPolicy", "Resource": role_arn},
            {"Sid": "DescribeClusters", "Effect": "Allow", "Action": "eks:DescribeCluster", "Resource": clusters},
            {
                "Sid": "CheckAccessEntries",
                "Effect": "Allow",
                "Action": "eks:ListAssociatedAccessPolicies",
                "Resource": [access_entry_arn_pattern(arn) for arn in clusters],
            },
            {
                "Sid": "ReadFailoverRecords",
                "Effect": "Allow",
                "Action": "route53:ListResourceRecordSets",
                "Resource": f"arn:aws:route53:::hostedzone/{zone_id}",
            },
        ],
    }


def health_checks_by_role(health_checks: list, regions: Mapping[str, str]) -> dict[str, str]:
    """Map the plan's Route 53 health checks (one per Region, `getRoute53HealthChecks` results)
    to "primary"/"standby".

    Raises:
        ValueError: the plan has no health check for a Region (yet).
    """
    by_region = {check.region: check.health_check_id for check in health_checks}
    missing = [regions[role] for role in ROLES if regions[role] not in by_region]
    if missing:
        raise ValueError(
            f"the Region switch plan has no Route 53 health check for {', '.join(missing)} yet "
            f"(it has: {sorted(by_region) or 'none'}); run `pulumi up` again once the plan is evaluated"
        )
    return {role: by_region[regions[role]] for role in ROLES}


class RegionSwitch(pulumi.ComponentResource):
    """The plan, its execution role (least privilege), and in each cluster an access entry for
    that role with the Region switch scaling policy, scoped to the serving namespace.

    Attributes:
        plan: the `aws.arcregionswitch.Plan`.
        execution_role: the role Region switch assumes.
        health_check_ids: per role, the plan-managed Route 53 health check that should steer
            that role's failover record.
    """

    plan: aws.arcregionswitch.Plan
    execution_role: aws.iam.Role
    health_check_ids: dict[str, pulumi.Output[str]]

    def __init__(self, name: str, args: RegionSwitchArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_if_problems("RegionSwitchArgs", region_switch_problems(args))
        super().__init__("recsys-dr:components:RegionSwitch", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = dict(args.tags)
        regions = {role: args.targets[role].region for role in ROLES}
        cluster_arns = pulumi.Output.all(*[args.targets[role].cluster_arn for role in ROLES]).apply(lambda arns: dict(zip(ROLES, arns)))

        self.execution_role = aws.iam.Role(
            f"{name}-execution",
            assume_role_policy=json.dumps(service_trust_policy(SERVICE_PRINCIPAL)),
            description=f"ARC Region switch plan {args.plan_name}: scale serving and move traffic",
            tags=tags,
            opts=child,
        )
        access = [self._access_entry(name, role, args.targets[role], tags) for role in ROLES]
        self.plan = aws.arcregionswitch.Plan(
            name,
            name=args.plan_name,
            description="Activate a Region of the recommender: scale its GPU serving, then move DNS to it",
            execution_role=self.execution_role.arn,
            recovery_approach="activePassive",
            regions=[regions["primary"], regions["standby"]],
            primary_region=regions["primary"],
            recovery_time_objective_minutes=args.recovery_time_objective_minutes,
            workflows=pulumi.Output.all(cluster_arns, args.zone_id).apply(
                lambda values: plan_workflows(args, cluster_arns=values[0], zone_id=values[1])
            ),
            tags=tags,
            # Plan evaluation checks the access entries; they must exist before the plan does.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*access, *args.after]),
        )
        aws.iam.RolePolicy(
            f"{name}-execution",
            role=self.execution_role.id,
            policy=pulumi.Output.all(self.plan.arn, self.execution_role.arn, cluster_arns, args.zone_id).apply(
                lambda values: json.dumps(execution_role_policy(
                    plan_arn=values[0], role_arn=values[1], cluster_arns=values[2], zone_id=values[3]
                ))
            ),
            opts=child,
        )
        checks = aws.arcregionswitch.get_route53_health_checks_output(plan_arn=self.plan.arn, opts=pulumi.InvokeOutputOptions(parent=self))
        by_role = checks.health_checks.apply(lambda found: health_checks_by_role(list(found), regions))
        self.health_check_ids = {role: by_role.apply(lambda ids, role=role: ids[role]) for role in ROLES}
        self.approval_step_name = APPROVAL_STEP if args.approval_role_arn else None
        self.register_outputs({
            "planArn": self.plan.arn,
            "executionRoleArn": self.execution_role.arn,
            "healthCheckIds": self.health_check_ids,
            "approvalStepName": self.approval_step_name,
        })

    def _access_entry(self, name: str, role: str, target: RegionSwitchTarget, tags: dict) -> aws.eks.AccessPolicyAssociation:
        entry = aws.eks.AccessEntry(
            f"{name}-{role}-access",
            region=target.region,
            cluster_name=target.cluster_name,
            principal_arn=self.execution_role.arn,
            type="STANDARD",
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.eks.AccessPolicyAssociation(
            f"{name}-{role}-scaling",
            region=target.region,
            cluster_name=target.cluster_name,
            principal_arn=entry.principal_arn,
            policy_arn=SCALING_ACCESS_POLICY_ARN,
            # Scale and HPA rights in the serving namespace only, not cluster-wide.
            access_scope={"type": "namespace", "namespaces": [target.namespace]},
            opts=pulumi.ResourceOptions(parent=self),
        )
