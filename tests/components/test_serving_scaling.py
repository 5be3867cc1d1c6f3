"""KEDA scaling on serving load, and the controllers the front door depends on, as tested invariants.

Field names and semantics are KEDA's (kedacore/keda apis/keda/v1alpha1/scaledobject_types.go,
scaletriggers_types.go, pkg/scalers/aws_cloudwatch_scaler.go) and the HPA's (kubernetes
pkg/controller/podautoscaler/replica_calculator.go); the rendered shipped stacks are checked.
"""

from __future__ import annotations

import json
import math

import pytest

from recsys_dr.components.cluster import addons, policies
from recsys_dr.components.serving import scaling

ROLES = ("primary", "standby")
REGIONS = {"primary": "us-east-1", "standby": "us-west-2"}
# apis/keda/v1alpha1/scaledobject_types.go ScaledObjectSpec and AdvancedConfig json names.
SPEC_FIELDS = {"scaleTargetRef", "pollingInterval", "initialCooldownPeriod", "cooldownPeriod", "idleReplicaCount",
               "minReplicaCount", "maxReplicaCount", "advanced", "triggers", "fallback"}
TRIGGER_FIELDS = {"type", "name", "useCachedMetrics", "metadata", "authenticationRef", "metricType"}
# pkg/scalers/aws_cloudwatch_scaler.go awsCloudwatchMetadata `keda:"name=..."` tags; required are
# those without `optional` or `default`.
CLOUDWATCH_KEYS = {"namespace", "metricName", "dimensionName", "dimensionValue", "expression", "targetMetricValue",
                   "activationTargetMetricValue", "minMetricValue", "ignoreNullValues", "metricCollectionTime", "metricStat",
                   "metricUnit", "metricStatPeriod", "metricEndTimeOffset", "awsAccountId", "awsRegion", "awsEndpoint",
                   "identityOwner"}
CLOUDWATCH_REQUIRED = {"targetMetricValue", "minMetricValue", "awsRegion"}


def scaled_objects(run):
    return run.of_type("kubernetes:keda.sh/v1alpha1:ScaledObject")


def scaled_object(run, env: str, role: str):
    [found] = [s for s in scaled_objects(run) if f"recsys-{env}-{role}-serving" in s.name]
    return found


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_one_scaled_object_per_serving_deployment_and_no_other_autoscaler(rendered_stacks, env):
    run = rendered_stacks[env]
    targets = [(s.inputs["metadata"]["namespace"], s.inputs["spec"]["scaleTargetRef"]["name"]) for s in scaled_objects(run)]
    deployments = [(d.inputs["metadata"]["namespace"], d.inputs["metadata"]["name"]) for d in run.of_type("kubernetes:apps/v1:Deployment")]
    assert sorted(targets) == sorted(deployments) and len(targets) == 3  # both regions' and the fallback tier's
    # Each region's pair lives in its own cluster.
    for role in ROLES:
        deployment = next(d for d in run.of_type("kubernetes:apps/v1:Deployment") if f"-{role}-" in d.name)
        assert scaled_object(run, env, role).provider == deployment.provider
    assert not run.of_type("kubernetes:autoscaling/v2:HorizontalPodAutoscaler")


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_no_trigger_scales_on_cpu_or_memory(rendered_stacks, env):
    for scaled in scaled_objects(rendered_stacks[env]):
        types = {t["type"] for t in scaled.inputs["spec"]["triggers"]}
        assert types == {scaling.TRIGGER_TYPE} and not types & {"cpu", "memory"}


@pytest.mark.parametrize("env", ["dev", "prod"])
@pytest.mark.parametrize("role", ROLES)
def test_triggers_read_their_own_regions_balancer_with_what_the_scaler_requires(rendered_stacks, env, role):
    run = rendered_stacks[env]
    spec = scaled_object(run, env, role).inputs["spec"]
    assert set(spec) <= SPEC_FIELDS
    balancer = next(b for b in run.of_type("aws:lb/loadBalancer:LoadBalancer") if f"-{role}-" in b.name)
    group = next(g for g in run.of_type("aws:lb/targetGroup:TargetGroup") if f"-{role}-" in g.name and g.name.endswith("-targets"))
    for trigger in spec["triggers"]:
        assert set(trigger) <= TRIGGER_FIELDS
        metadata = trigger["metadata"]
        assert set(metadata) <= CLOUDWATCH_KEYS and CLOUDWATCH_REQUIRED <= set(metadata)
        assert all(isinstance(v, str) for v in metadata.values())  # Metadata map[string]string
        assert metadata["awsRegion"] == REGIONS[role] and metadata["namespace"] == "AWS/ApplicationELB"
        names, values = metadata["dimensionName"].split(";"), metadata["dimensionValue"].split(";")
        assert dict(zip(names, values)) == {"LoadBalancer": balancer.outputs["arnSuffix"], "TargetGroup": group.outputs["arnSuffix"]}
        # Validate(): metricStatPeriod 1, 5, 10, 30, 60 or a multiple of 60; metricCollectionTime a multiple of it.
        period, window = int(metadata["metricStatPeriod"]), int(metadata["metricCollectionTime"])
        assert period in (1, 5, 10, 30, 60) or period % 60 == 0
        assert window > 0 and window % period == 0
        assert trigger["authenticationRef"]["name"] == next(
            t for t in run.of_type("kubernetes:keda.sh/v1alpha1:TriggerAuthentication") if f"-{role}-" in t.name
        ).inputs["metadata"]["name"]


def test_trigger_authentication_uses_the_operators_own_role():
    # pkg/scalers/aws/aws_common.go: provider aws without roleArn -> the operator's default credentials.
    assert scaling.trigger_authentication_spec() == {"podIdentity": {"provider": "aws"}}


def target(**overrides) -> scaling.ScalingTarget:
    values = {"deployment_name": "recommender-tf-serving", "namespace": "recsys", "region": "us-east-1",
              "load_balancer": "app/a/1", "target_group": "targetgroup/t/1", "min_replicas": 2, "max_replicas": 8,
              "target_requests_per_second": 100, "p99_latency_ms": 250, "scale_down_stabilization_seconds": 300}
    return scaling.ScalingTarget(**{**values, **overrides})


def hpa_desired(trigger: dict, metric: float, current: int) -> int:
    """replica_calculator.go: AverageValue -> ceil(metric / target) (GetExternalPerPodMetricReplicas);
    Value -> ceil(current x metric / target) (GetExternalMetricReplicas)."""
    goal = float(trigger["metadata"]["targetMetricValue"])
    if trigger["metricType"] == "AverageValue":
        return math.ceil(metric / goal)
    return math.ceil(current * metric / goal)


def test_the_request_trigger_sizes_the_fleet_at_the_target_rate_per_replica():
    requests, latency = scaling.triggers(target(), authentication="a")
    assert (requests["metadata"]["metricName"], requests["metadata"]["metricStat"]) == ("RequestCount", "Sum")
    # 1,000 req/s over the 60 s period at 100 req/s per replica: 10 replicas, however many run now.
    assert hpa_desired(requests, 1000 * 60, current=2) == hpa_desired(requests, 1000 * 60, current=7) == 10
    # The latency guard only adds replicas: at twice the p99 target it doubles the fleet.
    assert (latency["metadata"]["metricName"], latency["metadata"]["metricStat"]) == ("TargetResponseTime", "p99")
    assert hpa_desired(latency, 0.5, current=4) == 8 and hpa_desired(latency, 0.1, current=4) == 2


def test_without_a_latency_guard_only_the_request_trigger_is_left():
    assert [t["name"] for t in scaling.triggers(target(p99_latency_ms=None), authentication="a")] == ["requests"]


def test_metrics_are_read_at_the_polling_interval_not_at_every_hpa_sync():
    assert all(t["useCachedMetrics"] for t in scaling.triggers(target(), authentication="a"))


def test_scale_up_is_immediate_and_scale_down_stabilised_and_slow():
    behavior = scaling.scaled_object_spec(target(), authentication="a")["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]
    assert behavior["scaleUp"]["stabilizationWindowSeconds"] == 0
    assert behavior["scaleDown"]["stabilizationWindowSeconds"] == 300
    assert behavior["scaleDown"]["policies"] == [{"type": "Pods", "value": 1, "periodSeconds": 120}]


def test_the_hpa_keeps_the_deployments_name_for_operators_and_region_switch():
    spec = scaling.scaled_object_spec(target(), authentication="a")
    assert spec["advanced"]["horizontalPodAutoscalerConfig"]["name"] == spec["scaleTargetRef"]["name"]
    # KEDA's webhook allows taking over an existing HPA only when it is named and transfer is asked for.
    assert scaling.scaled_object_annotations(standby=False) == {"scaledobject.keda.sh/transfer-hpa-ownership": "true"}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_bounds_pass_the_crds_validation_rule(rendered_stacks, env):
    # x-kubernetes-validations: minReplicaCount <= maxReplicaCount (default 100); maxReplicaCount >= 1.
    for scaled in scaled_objects(rendered_stacks[env]):
        spec = scaled.inputs["spec"]
        assert 0 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] and spec["maxReplicaCount"] >= 1


def test_a_pilot_light_standby_stays_at_zero_and_no_standby_scales_in_on_its_own(rendered_stacks):
    dev, prod = rendered_stacks["dev"], rendered_stacks["prod"]
    standby = scaled_object(dev, "dev", "standby")
    assert standby.inputs["spec"]["minReplicaCount"] == 0
    deployment = next(d for d in dev.of_type("kubernetes:apps/v1:Deployment") if "-standby-" in d.name)
    assert deployment.inputs["spec"]["replicas"] == 0
    # scaleToZeroOrIdle returns at once with paused-scale-in, and KEDA disables the HPA's scale-down:
    # replicas raised for a failover stay until traffic arrives.
    for run, env in ((dev, "dev"), (prod, "prod")):
        assert scaled_object(run, env, "standby").inputs["metadata"]["annotations"][scaling.PAUSED_SCALE_IN] == "true"
        assert scaling.PAUSED_SCALE_IN not in scaled_object(run, env, "primary").inputs["metadata"]["annotations"]


# --- the controllers --------------------------------------------------------------------------------

def role_policies(run, env: str, role: str, name: str) -> list[dict]:
    return [json.loads(p.inputs["policy"]) for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == f"recsys-{env}-{role}-{name}"]


@pytest.mark.parametrize("role", ROLES)
def test_the_load_balancer_controller_can_only_read_and_bind_its_regions_target_group(rendered_stacks, role):
    run = rendered_stacks["prod"]
    [own] = role_policies(run, "prod", role, "load-balancer-controller")
    [bind] = role_policies(run, "prod", role, "serving-bind-targets")
    groups = sorted(g.outputs["arn"] for g in run.of_type("aws:lb/targetGroup:TargetGroup") if f"-{role}-" in g.name)
    assert own["Statement"][0]["Action"] == list(policies.LOAD_BALANCER_CONTROLLER_READS)
    assert all(a.split(":")[1].startswith("Describe") for a in own["Statement"][0]["Action"])
    assert own["Statement"][0]["Condition"] == {"StringEquals": {"aws:RequestedRegion": REGIONS[role]}}
    [statement] = bind["Statement"]
    assert statement["Action"] == ["elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"]
    assert len(groups) == 2 and statement["Resource"] == groups  # the stable pods' group and the canary's
    # The binding policy hangs on the controller's role, in the same region's cluster.
    attached = next(p for p in run.of_type("aws:iam/rolePolicy:RolePolicy") if p.name == f"recsys-prod-{role}-serving-bind-targets")
    controller = run.one("aws:iam/role:Role", f"recsys-prod-{role}-load-balancer-controller")
    assert attached.inputs["role"] == controller.outputs["name"]


def test_nothing_the_stock_controller_policy_adds_for_provisioning_is_granted():
    # docs/install/iam_policy.json grants these (among others); binding needs none of them.
    provisioning = {"elasticloadbalancing:CreateLoadBalancer", "elasticloadbalancing:CreateTargetGroup",
                    "elasticloadbalancing:DeleteLoadBalancer", "elasticloadbalancing:ModifyListener", "elasticloadbalancing:SetWebAcl",
                    "ec2:AuthorizeSecurityGroupIngress", "ec2:RevokeSecurityGroupIngress", "ec2:CreateSecurityGroup",
                    "iam:CreateServiceLinkedRole", "wafv2:AssociateWebACL", "shield:CreateProtection", "acm:ListCertificates"}
    granted = set(policies.LOAD_BALANCER_CONTROLLER_READS) | set(policies.LOAD_BALANCER_CONTROLLER_WRITES)
    assert not granted & provisioning
    assert set(policies.LOAD_BALANCER_CONTROLLER_WRITES) == {"elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets"}


@pytest.mark.parametrize("role", ROLES)
def test_keda_reads_metrics_in_its_region_and_nothing_else(rendered_stacks, role):
    [policy] = role_policies(rendered_stacks["prod"], "prod", role, "keda")
    [statement] = policy["Statement"]
    assert statement["Action"] == "cloudwatch:GetMetricData"
    assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": REGIONS[role]}}


@pytest.mark.parametrize("role", ROLES)
def test_each_controller_gets_its_role_through_pod_identity_on_its_chart_service_account(rendered_stacks, role):
    run = rendered_stacks["prod"]
    for name, chart, account in (("load-balancer-controller", addons.LOAD_BALANCER_CONTROLLER, addons.LOAD_BALANCER_CONTROLLER_SERVICE_ACCOUNT),
                                 ("keda", addons.KEDA, addons.KEDA_OPERATOR_SERVICE_ACCOUNT)):
        association = run.one("aws:eks/podIdentityAssociation:PodIdentityAssociation", f"recsys-prod-{role}-{name}")
        assert (association.inputs["namespace"], association.inputs["serviceAccount"]) == (chart.namespace, account)
        assert association.inputs["roleArn"] == run.one("aws:iam/role:Role", f"recsys-prod-{role}-{name}").outputs["arn"]
        release = run.one("kubernetes:helm.sh/v3:Release", f"recsys-prod-{role}-{name}")
        assert (release.inputs["chart"], release.inputs["version"], release.inputs["namespace"]) == (chart.chart, chart.version, chart.namespace)
        assert association.urn in release.dependencies


def test_charts_are_pinned_to_exact_versions():
    for chart in (addons.LOAD_BALANCER_CONTROLLER, addons.KEDA, addons.CLUSTER_AUTOSCALER, addons.NVIDIA_DEVICE_PLUGIN):
        assert all(part.isdigit() for part in chart.version.split(".")) and chart.version.count(".") == 2


def test_the_load_balancer_controller_is_set_up_for_target_group_binding_only():
    values = addons.load_balancer_controller_values(cluster_name="c", region="us-east-1", vpc_id="vpc-1")
    # aws/eks-charts stable/aws-load-balancer-controller values.yaml keys.
    assert (values["region"], values["vpcId"], values["clusterName"]) == ("us-east-1", "vpc-1", "c")
    assert values["enableServiceMutatorWebhook"] is False and values["createIngressClassResource"] is False
    assert values["ingressClassParams"] == {"create": False}
    assert not any(values[k] for k in ("enableShield", "enableWaf", "enableWafv2"))
    assert values["controllerConfig"]["featureGates"]["EnableServiceController"] is False


@pytest.mark.parametrize("role", ROLES)
def test_bindings_and_scaled_objects_wait_for_their_controllers(rendered_stacks, role):
    run = rendered_stacks["prod"]
    releases = {r.urn for r in run.of_type("kubernetes:helm.sh/v3:Release") if r.name in (
        f"recsys-prod-{role}-load-balancer-controller", f"recsys-prod-{role}-keda")}
    bindings = [b for b in run.of_type("kubernetes:elbv2.k8s.aws/v1beta1:TargetGroupBinding") if f"-{role}-" in b.name]
    assert len(bindings) == 2  # the stable group's and, at rest, the canary group's
    assert all(releases <= set(binding.dependencies) for binding in bindings)
    assert releases <= set(scaled_object(run, "prod", role).dependencies)
    # The first pod must be created after every binding that selects it, or it gets no readiness gate
    # for that group (aws-load-balancer-controller docs, deploy/pod_readiness_gate.md).
    deployment = next(d for d in run.of_type("kubernetes:apps/v1:Deployment") if f"-{role}-" in d.name)
    assert all(binding.urn in deployment.dependencies for binding in bindings)
