"""What `pulumi up` waits for on the serving objects (pulumi-kubernetes await annotations).

Rules from pulumi-kubernetes (provider/pkg/metadata/overrides.go `ReadyCondition`,
provider/pkg/await/await.go, provider/pkg/jsonpath/jsonpath.go): a `pulumi.com/waitFor`
annotation replaces the built-in await; `jsonpath={.path}` without a value matches once the
path exists; `pulumi.com/skipAwait: "true"` returns at once; `pulumi.com/timeoutSeconds`
replaces the 10-minute default.
"""

from __future__ import annotations

import re

from recsys_dr.components.serving import manifests

SPEC = manifests.ServingSpec(model_name="m", model_version=1, bucket="b", region="us-east-1", replicas=1, min_replicas=1, max_replicas=2)


def jsonpath_select(path_expr: str, obj: dict):
    """The strict kubectl subset the annotation uses: `.a.b[0].c`; None when nothing matches."""
    current = obj
    for name, index in re.findall(r"\.([A-Za-z]+)(?:\[(\d+)\])?", path_expr):
        if not isinstance(current, dict) or name not in current:
            return None
        current = current[name]
        if index:
            if not isinstance(current, list) or len(current) <= int(index):
                return None
            current = current[int(index)]
    return current


def wait_for_path() -> str:
    value = manifests.service_annotations(SPEC)[manifests.AWAIT_WAIT_FOR]
    match = re.fullmatch(r"jsonpath=\{(.+)\}", value)
    assert match, value  # ReadyCondition rejects anything without the jsonpath=/condition= prefix
    assert "=" not in match.group(1)  # no value: the path only has to exist
    return match.group(1)


def test_service_waits_for_the_load_balancer_hostname_only():
    path = wait_for_path()
    pending = {"status": {"loadBalancer": {}}}
    provisioned = {"status": {"loadBalancer": {"ingress": [{"hostname": "abc.elb.us-east-1.amazonaws.com"}]}}}
    assert jsonpath_select(path, pending) is None
    assert jsonpath_select(path, provisioned) == "abc.elb.us-east-1.amazonaws.com"


def test_service_wait_does_not_depend_on_ready_endpoints():
    # The built-in Service await also needs ready endpoints; waitFor switches it off.
    path = wait_for_path()
    assert "endpoint" not in path.lower() and path.startswith(".status.loadBalancer")


def test_service_keeps_the_wait_with_tls():
    with_tls = manifests.ServingSpec(**{**SPEC.__dict__, "tls_certificate_arn": "arn:aws:acm:us-east-1:123456789012:certificate/" + "0" * 36})
    assert manifests.service_annotations(with_tls)[manifests.AWAIT_WAIT_FOR] == manifests.SERVICE_WAIT_FOR


def test_deployment_await_is_bounded_by_the_given_timeout():
    assert manifests.deployment_annotations(await_rollout=True, timeout_seconds=2110) == {"pulumi.com/timeoutSeconds": "2110"}


def test_deployment_await_can_be_skipped():
    assert manifests.deployment_annotations(await_rollout=False, timeout_seconds=2110) == {"pulumi.com/skipAwait": "true"}


def test_deployment_takes_its_strategy_from_the_spec():
    spec = manifests.ServingSpec(**{**SPEC.__dict__, "max_surge": 0, "max_unavailable": 1})
    rendered = manifests.deployment_spec(spec, service_account="sa", script_config_map="cm")
    assert rendered["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
