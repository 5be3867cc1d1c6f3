"""What `pulumi up` waits for on the serving objects (pulumi-kubernetes await annotations).

Rules from pulumi-kubernetes (provider/pkg/metadata/annotations.go, provider/pkg/await/await.go):
`pulumi.com/skipAwait: "true"` returns at once; `pulumi.com/timeoutSeconds` replaces the
10-minute default. The Service is a ClusterIP one, which the provider considers ready at once.
"""

from __future__ import annotations

from recsys_dr.components.serving import balancer, manifests, rollout

SPEC = manifests.ServingSpec(model_name="m", model_version=1, bucket="b", region="us-east-1", replicas=1, min_replicas=1, max_replicas=2)


def test_deployment_await_is_bounded_by_the_given_timeout():
    assert manifests.deployment_annotations(await_rollout=True, timeout_seconds=2110) == {"pulumi.com/timeoutSeconds": "2110"}


def test_deployment_await_can_be_skipped():
    assert manifests.deployment_annotations(await_rollout=False, timeout_seconds=2110) == {"pulumi.com/skipAwait": "true"}


def test_deployment_takes_its_strategy_from_the_spec():
    spec = manifests.ServingSpec(**{**SPEC.__dict__, "max_surge": 0, "max_unavailable": 1})
    rendered = manifests.deployment_spec(spec, service_account="sa", script_config_map="cm")
    assert rendered["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}


def test_rollout_timeout_covers_each_pods_target_group_registration():
    """A pod counts as available only once its readiness gate opens, after `healthy_threshold`
    passing target-group checks `interval` apart (docs/deploy/pod_readiness_gate.md)."""
    pod = rollout.pod_ready_seconds(startup_period_seconds=manifests.STARTUP_PERIOD_SECONDS,
                                    startup_failure_threshold=manifests.STARTUP_FAILURE_THRESHOLD,
                                    min_ready_seconds=manifests.MIN_READY_SECONDS)
    health = balancer.target_group("m")["health_check"]
    assert balancer.registration_seconds() == health["interval"] * health["healthy_threshold"] == 20
    assert pod + balancer.registration_seconds() == 930
