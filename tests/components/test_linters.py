"""What the components produce, checked by the ecosystem's own linters and schemas.

- every Kubernetes object against the official OpenAPI schema of the cluster's version
  (kubernetes-validate, strict: unknown fields fail);
- every IAM identity policy with parliament (malformed statements, unknown actions,
  `*` resources where the action supports resource scoping);
- the init-container script with ShellCheck as POSIX sh.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
from parliament import analyze_policy_string

from recsys_dr.components.serving.model_serving import FETCH_SCRIPT
from recsys_dr.review.mock_runtime import RegisteredResource

ENVIRONMENTS = ("dev", "prod")


def kubernetes_manifest(resource: RegisteredResource) -> dict:
    """The object as `kubectl apply` would send it, from a `kubernetes:<group>/<version>:<Kind>` resource."""
    _, group_version, kind = resource.type.split(":")
    group, version = group_version.split("/")
    api_version = version if group == "core" else f"{group}/{version}"
    return {"apiVersion": api_version, "kind": kind, **resource.inputs}


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_kubernetes_objects_match_the_clusters_api_schema(rendered_stacks, env):
    run = rendered_stacks[env]
    (kubernetes_version,) = {c.inputs["version"] for c in run.of_type("aws:eks/cluster:Cluster")}
    # Custom resources (TargetGroupBinding, KEDA's) are not in the cluster's schema: tests/components/test_front_door.py
    # and test_serving_scaling.py check them against their controllers' API types.
    custom = ("kubernetes:helm.sh/", "kubernetes:elbv2.k8s.aws/", "kubernetes:keda.sh/")
    objects = [r for r in run.resources if r.type.startswith("kubernetes:") and not r.type.startswith(custom)]
    assert len(objects) == 27  # per serving tier (two regions, the fallback): 7 serving objects and 2 NetworkPolicies
    for resource in objects:
        try:
            kubernetes_validate.validate(kubernetes_manifest(resource), kubernetes_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{resource.name} ({resource.type}) is not a valid {kubernetes_version} object: {error.message} at {list(error.path)}")


def test_schema_validation_rejects_a_misspelt_field(rendered_stacks):
    """The strict check above would catch a typo such as `tolerration`."""
    (deployment, *_) = rendered_stacks["dev"].of_type("kubernetes:apps/v1:Deployment")
    manifest = kubernetes_manifest(deployment)
    pod = manifest["spec"]["template"]["spec"]
    pod["tolerration"] = pod.pop("tolerations")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(manifest, "1.35", strict=True)  # the shipped clusters' version


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_iam_identity_policies_pass_parliament(rendered_stacks, env):
    policies = [r for r in rendered_stacks[env].of_type("aws:iam/rolePolicy:RolePolicy")]
    # replication, and per region: serving reader, cluster autoscaler, load balancer controller (its
    # reads, and the binding of the region's target group), KEDA; the fallback tier's reader and binding
    assert len(policies) == 13
    for resource in policies:
        findings = analyze_policy_string(resource.inputs["policy"]).findings
        assert not findings, f"{resource.name}: {[(f.issue, f.detail) for f in findings]}"


def test_fetch_script_passes_shellcheck_as_posix_sh():
    shellcheck = Path(sys.executable).with_name("shellcheck")
    result = subprocess.run([str(shellcheck), "--shell=sh", "--severity=style", str(FETCH_SCRIPT)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout
