"""Has a Deployment rolled out the pinned version? The rule `kubectl rollout status` applies.

kubectl/pkg/polymorphichelpers/rollout_status.go (`DeploymentStatusViewer.Status`): once the
controller observed the latest spec (`metadata.generation <= status.observedGeneration`), a
Deployment is rolled out when no new replica is missing (`status.updatedReplicas >=
spec.replicas`), no old replica is left (`status.replicas <= status.updatedReplicas`) and every
updated replica is available (`status.availableReplicas >= status.updatedReplicas`); a
`Progressing` condition with reason `ProgressDeadlineExceeded` means it stopped trying. The pinned
manifest digest in the pod template (`recsys-dr/manifest-sha256`) says which version that is.
"""

from __future__ import annotations

from typing import Any

DIGEST_ANNOTATION = "recsys-dr/manifest-sha256"  # components.serving.manifests.MANIFEST_DIGEST_ANNOTATION


def rollout_state(deployment: dict, manifest_sha256: str) -> tuple[bool, str]:
    """(rolled out with this digest, why not / what it runs)."""
    metadata, spec, status = (deployment.get(k) or {} for k in ("metadata", "spec", "status"))
    digest = (((spec.get("template") or {}).get("metadata") or {}).get("annotations") or {}).get(DIGEST_ANNOTATION)
    if digest != manifest_sha256:
        return False, f"its pod template pins manifest {str(digest)[:12]}…, not {manifest_sha256[:12]}…: apply the stack change first"
    if (metadata.get("generation") or 0) > (status.get("observedGeneration") or 0):
        return False, "waiting for the deployment spec update to be observed"
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            return False, f"the rollout exceeded its progress deadline: {condition.get('message', '')}".rstrip(": ")
    desired = spec.get("replicas", 1)
    updated, total, available = (status.get(k) or 0 for k in ("updatedReplicas", "replicas", "availableReplicas"))
    if updated < desired:
        return False, f"{updated} out of {desired} new replicas have been updated"
    if total > updated:
        return False, f"{total - updated} old replicas are pending termination"
    if available < updated:
        return False, f"{available} of {updated} updated replicas are available"
    return True, f"rolled out: {updated} replica(s) of manifest {manifest_sha256[:12]}…"


def read_deployment(kube: Any, namespace: str, name: str) -> dict:
    return kube.request("GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
