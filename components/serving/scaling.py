"""KEDA objects that scale TF Serving on serving load, as plain dicts (tested without Pulumi).

One ScaledObject per serving Deployment; KEDA creates and owns its HorizontalPodAutoscaler.
Triggers read the region's balancer through KEDA's `aws-cloudwatch` scaler (kedacore/keda
pkg/scalers/aws_cloudwatch_scaler.go), with the KEDA operator's own Pod Identity role
(TriggerAuthentication `podIdentity.provider: aws`, pkg/scalers/aws/aws_common.go):

* `requests`: the target group's `RequestCount` (Sum over 60 s) as an `AverageValue` external
  metric. For AverageValue the HPA wants ceil(metric / target) replicas, whatever runs now
  (kubernetes pkg/controller/podautoscaler/replica_calculator.go, GetExternalPerPodMetricReplicas),
  so the target is `target_requests_per_second` x 60 requests per replica and minute.
* `latency` (optional guard): the target group's p99 `TargetResponseTime` as a `Value` metric:
  ceil(current x p99 / target) replicas (GetExternalMetricReplicas). The HPA takes the larger
  proposal of the two, so latency only ever adds replicas.

The balancer's metrics, not TF Serving's Prometheus endpoint: they exist without a Prometheus in
the cluster, cover every request the balancer routed (including ones a saturated pod is slow to
answer) and need no metrics port on the pods. ALB metrics arrive per minute, so scaling follows
load within about two minutes; scale-up is immediate once it does, scale-down waits for the
stabilization window. CPU is no trigger anywhere: a GPU server's CPU says little about its load.

A pilot-light standby has `minReplicaCount: 0` and its Deployment pinned at 0 while no traffic
reaches it (Route 53 answers the primary while the standby's check fails). Every standby's
ScaledObject carries `autoscaling.keda.sh/paused-scale-in`: KEDA then neither scales the
Deployment to zero nor lets its HPA scale in (pkg/scaling/executor/scale_scaledobjects.go
`scaleToZeroOrIdle`; controllers/keda/hpa.go sets scaleDown.selectPolicy Disabled), so replicas
raised for a failover (by `recsys-dr failover` or a Region switch plan's scaling step) stay up
until traffic has arrived; `recsys-dr failover --to primary` puts the standby back at rest.
"""

from __future__ import annotations

from dataclasses import dataclass

KEDA_API_VERSION = "keda.sh/v1alpha1"
TRIGGER_TYPE = "aws-cloudwatch"
ALB_NAMESPACE = "AWS/ApplicationELB"
# KEDA defaults, set explicitly (apis/keda/v1alpha1/scaledobject_types.go; the scaler's
# metricStatPeriod and metricCollectionTime default to 300): ALB metrics are per minute.
POLLING_INTERVAL_SECONDS = 30
COOLDOWN_SECONDS = 300
METRIC_PERIOD_SECONDS = 60
# Three periods: the newest minute may be partial, an older one is complete.
METRIC_COLLECTION_SECONDS = 180
PAUSED_SCALE_IN = "autoscaling.keda.sh/paused-scale-in"
# KEDA's admission webhook refuses a ScaledObject whose workload another HPA already scales
# unless the ScaledObject names that HPA and asks for it (apis/keda/v1alpha1/scaledobject_webhook.go
# `verifyHpas`): a stack that scaled on CPU hands its HPA, of the same name, over to KEDA. Pulumi
# creates before it deletes, so the old HPA still exists when the ScaledObject is created; its
# deletion afterwards is awaited on the watch's Deleted event (pulumi-kubernetes
# provider/pkg/await/condition/deleted.go), and KEDA recreates the HPA it owns (it watches them).
TRANSFER_HPA_OWNERSHIP = "scaledobject.keda.sh/transfer-hpa-ownership"
SCALE_UP_PODS_PER_MINUTE = 4
SCALE_DOWN_PODS_PER_2_MINUTES = 1


@dataclass(frozen=True, kw_only=True)
class ScalingTarget:
    """What one region's ScaledObject scales and reads (plain values)."""

    deployment_name: str
    namespace: str
    region: str
    load_balancer: str  # CloudWatch `LoadBalancer` dimension (app/<name>/<id>)
    target_group: str  # CloudWatch `TargetGroup` dimension (targetgroup/<name>/<id>)
    min_replicas: int  # 0 for a pilot-light standby
    max_replicas: int
    target_requests_per_second: int
    p99_latency_ms: int | None
    scale_down_stabilization_seconds: int


def trigger_authentication_spec() -> dict:
    """The KEDA operator's own credentials (its Pod Identity role), no role to assume."""
    return {"podIdentity": {"provider": "aws"}}


def _trigger(name: str, target: ScalingTarget, auth: str, metric_type: str, **metadata: str) -> dict:
    return {
        "type": TRIGGER_TYPE, "name": name, "metricType": metric_type, "authenticationRef": {"name": auth},
        # The value polled every pollingInterval, not one CloudWatch call per HPA sync (15 s).
        "useCachedMetrics": True,
        "metadata": {
            "namespace": ALB_NAMESPACE, "dimensionName": "LoadBalancer;TargetGroup",
            "dimensionValue": f"{target.load_balancer};{target.target_group}", "awsRegion": target.region,
            "metricStatPeriod": str(METRIC_PERIOD_SECONDS), "metricCollectionTime": str(METRIC_COLLECTION_SECONDS),
            # No data (no traffic) counts as zero load, not as an error.
            "minMetricValue": "0", "ignoreNullValues": "true", **metadata,
        },
    }


def triggers(target: ScalingTarget, *, authentication: str) -> list[dict]:
    found = [_trigger("requests", target, authentication, "AverageValue", metricName="RequestCount", metricStat="Sum",
                      targetMetricValue=str(target.target_requests_per_second * METRIC_PERIOD_SECONDS))]
    if target.p99_latency_ms is not None:
        found.append(_trigger("latency", target, authentication, "Value", metricName="TargetResponseTime",
                              metricStat="p99", targetMetricValue=f"{target.p99_latency_ms / 1000:g}",
                              # Latency alone never wakes a scaled-to-zero Deployment.
                              activationTargetMetricValue=f"{target.p99_latency_ms / 1000:g}"))
    return found


def behavior(target: ScalingTarget) -> dict:
    """Scale up at once (GPU pods take minutes to become ready), down slowly and one pod at a time."""
    return {
        "scaleUp": {"stabilizationWindowSeconds": 0,
                    "policies": [{"type": "Pods", "value": SCALE_UP_PODS_PER_MINUTE, "periodSeconds": 60}]},
        "scaleDown": {"stabilizationWindowSeconds": target.scale_down_stabilization_seconds,
                      "policies": [{"type": "Pods", "value": SCALE_DOWN_PODS_PER_2_MINUTES, "periodSeconds": 120}]},
    }


def scaled_object_annotations(*, standby: bool) -> dict[str, str]:
    annotations = {TRANSFER_HPA_OWNERSHIP: "true"}
    if standby:
        annotations[PAUSED_SCALE_IN] = "true"
    return annotations


def scaled_object_spec(target: ScalingTarget, *, authentication: str) -> dict:
    """The ScaledObject's spec; its HPA is named after the Deployment (the outputs' `hpaName`)."""
    return {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target.deployment_name},
        "pollingInterval": POLLING_INTERVAL_SECONDS,
        "cooldownPeriod": COOLDOWN_SECONDS,
        "minReplicaCount": target.min_replicas,
        "maxReplicaCount": target.max_replicas,
        "advanced": {"horizontalPodAutoscalerConfig": {"name": target.deployment_name, "behavior": behavior(target)}},
        "triggers": triggers(target, authentication=authentication),
    }
