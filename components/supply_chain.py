"""What the deployment pulls from registries it does not control, and which of it is pinned by content.

A tag or a chart version can be moved to other content by whoever can push to the registry or the
chart repository; an image digest cannot (with `name:tag@sha256:...` the kubelet pulls by
digest). Images are pinned by digest where the digest could be confirmed offline (two independent
public sources naming the same index digest); every image or chart that is not gets a warning,
which `pulumi preview` and `recsys-dr plan` show.
"""

from __future__ import annotations

import re

DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")

# registry.k8s.io/autoscaling/cluster-autoscaler image index digests, by Kubernetes minor version
# (the image follows the cluster's minor). v1.35.0: pinned identically by two unrelated public
# projects, one of which records checking it with `docker buildx imagetools inspect`.
CLUSTER_AUTOSCALER_IMAGE = "registry.k8s.io/autoscaling/cluster-autoscaler"
CLUSTER_AUTOSCALER_DIGESTS = {"1.35": "sha256:2fc9433dd3b47baef0e68d6b1110b770a3c93db10c7bead4c5bc6cb21c72b875"}
# The device plugin chart's own image (its appVersion); no digest confirmed offline.
NVIDIA_DEVICE_PLUGIN_IMAGE = "nvcr.io/nvidia/k8s-device-plugin"
NVIDIA_DEVICE_PLUGIN_TAG = "v0.17.1"


def is_pinned(reference: str) -> bool:
    """Whether an image reference names its content (`...@sha256:<64 hex>`)."""
    return bool(DIGEST.search(reference))


def cluster_autoscaler_tag(kubernetes_version: str) -> str:
    """The autoscaler image tag for a cluster version, with its digest where one is known:
    `v1.35.0@sha256:...` (the chart writes `repository:tag`, so the digest rides in the tag)."""
    tag = f"v{kubernetes_version}.0"
    digest = CLUSTER_AUTOSCALER_DIGESTS.get(kubernetes_version)
    return f"{tag}@{digest}" if digest else tag


def image_warning(what: str, reference: str, *, advice: str | None = None) -> str | None:
    """The warning for an image pinned by tag only, or None when it is pinned by digest.
    `advice` replaces the default "add its digest" where no setting names the image."""
    if is_pinned(reference):
        return None
    advice = advice or f"add its digest ({reference}@sha256:<digest>, from `docker buildx imagetools inspect {reference}`)"
    return f"{what} is pinned by tag only ({reference}): whoever can push that tag changes what runs; {advice}"


def chart_warning(chart: str, version: str, repository: str) -> str:
    """Helm charts from an HTTP repository are fetched by version; nothing here checks their digest."""
    return (f"Helm chart {chart} {version} is fetched by version from {repository}: whoever controls that "
            f"repository can change what installs (no chart digest is checked); mirror it into a repository you control")
