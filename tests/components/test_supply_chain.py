"""What the deployment pulls is pinned by content where a digest could be confirmed offline, and
warned about where not (components/supply_chain.py, components/cluster/addons.py)."""

from __future__ import annotations

import pytest

from recsys_dr.components import supply_chain
from recsys_dr.components.cluster import addons
from recsys_dr.components.serving.manifests import DEFAULT_FETCHER_IMAGE, DEFAULT_SERVING_IMAGE


def test_the_autoscaler_image_is_pinned_by_digest_for_the_default_kubernetes_version():
    values = addons.cluster_autoscaler_values(cluster_name="c", region="us-east-1", kubernetes_version="1.35")
    # The chart renders `image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"`
    # (kubernetes/autoscaler charts/cluster-autoscaler/templates/deployment.yaml), so the digest rides in the tag.
    reference = f"{values['image']['repository']}:{values['image']['tag']}"
    assert reference == ("registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.0"
                         "@sha256:2fc9433dd3b47baef0e68d6b1110b770a3c93db10c7bead4c5bc6cb21c72b875")
    assert supply_chain.is_pinned(reference)


def test_a_version_without_a_recorded_digest_is_warned_about():
    warnings = addons.supply_chain_warnings(kubernetes_version="1.34", device_plugin=False)
    assert any(w.startswith("the Cluster Autoscaler image is pinned by tag only "
                            "(registry.k8s.io/autoscaling/cluster-autoscaler:v1.34.0)") for w in warnings)


@pytest.mark.parametrize("device_plugin", [True, False])
def test_every_chart_and_every_unpinned_image_of_a_cluster_is_warned_about(device_plugin):
    warnings = addons.supply_chain_warnings(kubernetes_version="1.35", device_plugin=device_plugin)
    expected = ["Helm chart cluster-autoscaler 9.46.6", "Helm chart aws-load-balancer-controller 3.5.0", "Helm chart keda 2.20.2"]
    if device_plugin:
        expected += ["Helm chart nvidia-device-plugin 0.17.1", "the NVIDIA device plugin image"]
    assert sorted(w.split(" is ", 1)[0] for w in warnings) == sorted(expected)


def test_the_device_plugin_runs_the_image_the_warning_names():
    image = addons.device_plugin_values()["image"]
    assert f"{image['repository']}:{image['tag']}" == "nvcr.io/nvidia/k8s-device-plugin:v0.17.1"


def test_serving_images():
    assert supply_chain.is_pinned(DEFAULT_FETCHER_IMAGE)
    assert supply_chain.image_warning("`serving.fetcherImage`", DEFAULT_FETCHER_IMAGE) is None
    warning = supply_chain.image_warning("`serving.image`", DEFAULT_SERVING_IMAGE)
    assert warning.startswith("`serving.image` is pinned by tag only (tensorflow/serving:2.21.0-gpu)")
    assert supply_chain.image_warning("`serving.image`", f"{DEFAULT_SERVING_IMAGE}@sha256:{'a' * 64}") is None
