"""TF Serving Kubernetes objects, built by plain functions."""

import dataclasses

import pytest

from recsys_dr.components.serving.batching import resolve_batching
from recsys_dr.components.serving.manifests import (
    READINESS_GATE_LABEL,
    ServingSpec,
    deployment_spec,
    pdb_spec,
    service_spec,
    target_group_binding_spec,
)


@pytest.fixture
def spec() -> ServingSpec:
    return ServingSpec(
        model_name="recommender", model_version=7, bucket="models-standby", region="us-west-2",
        replicas=2, min_replicas=2, max_replicas=6, script_checksum="abc",
    )


@pytest.fixture
def pod(spec) -> dict:
    return deployment_spec(spec, service_account="reader", script_config_map="fetch-script")["template"]["spec"]


def test_the_autoscaler_owns_the_replica_count_unless_pilot_light(spec):
    assert "replicas" not in deployment_spec(spec, service_account="sa", script_config_map="cm")
    pilot_light = dataclasses.replace(spec, replicas=0)
    assert deployment_spec(pilot_light, service_account="sa", script_config_map="cm")["replicas"] == 0


def test_rolling_update_never_removes_a_serving_pod_first(spec):
    strategy = deployment_spec(spec, service_account="sa", script_config_map="cm")["strategy"]
    assert strategy == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}


def test_serving_container_requests_and_limits_one_gpu(pod):
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["resources"]["requests"]["nvidia.com/gpu"] == "1"
    assert {"cpu", "memory"} <= set(container["resources"]["limits"])


def test_pod_tolerates_the_gpu_taint_and_targets_the_gpu_pool(pod):
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert pod["nodeSelector"] == {"recsys-dr/pool": "gpu"}


def test_readiness_and_startup_probe_the_model_status(pod):
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"] == {"path": "/v1/models/recommender", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/v1/models/recommender"


def test_liveness_checks_the_model_not_a_socket(pod):
    # An unloaded model answers 404 on its status path; a TCP check would keep passing.
    probe = pod["containers"][0]["livenessProbe"]
    assert probe["httpGet"] == {"path": "/v1/models/recommender", "port": "http"}
    assert "tcpSocket" not in probe and "grpc" not in probe


def test_grpc_listens_on_no_tcp_port(pod):
    # ModelService (reload/unload) rides on every gRPC listener; TF Serving's main.cc:
    # `--port` "Disabled if port set to zero". Only a unix socket inside the container is left.
    container = pod["containers"][0]
    assert {p["containerPort"] for p in container["ports"]} == {8501}
    assert "--port=0" in container["args"]
    assert "--grpc_socket_path=/tmp/tf-serving-grpc.sock" in container["args"]
    assert not [a for a in container["args"] if a.startswith("--port=") and a != "--port=0"]
    assert "--rest_api_port=8501" in container["args"]


def test_init_container_fetches_the_pinned_version_from_the_regional_bucket(pod):
    init = pod["initContainers"][0]
    env = {e["name"]: e["value"] for e in init["env"]}
    assert env["MODEL_BUCKET"] == "models-standby"
    assert env["MODEL_VERSION"] == "7"
    assert env["AWS_REGION"] == "us-west-2"
    assert env["TARGET_DIR"] == "/models/recommender"
    assert init["command"] == ["sh", "/opt/recsys/fetch_and_verify.sh"]
    assert "--model_base_path=/models/recommender" in pod["containers"][0]["args"]


@pytest.mark.parametrize("container_kind", ["initContainers", "containers"])
def test_containers_run_restricted(pod, container_kind):
    context = pod[container_kind][0]["securityContext"]
    assert context["allowPrivilegeEscalation"] is False
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["capabilities"] == {"drop": ["ALL"]}


def test_pods_spread_over_zones(pod):
    keys = [c["topologyKey"] for c in pod["topologySpreadConstraints"]]
    assert "topology.kubernetes.io/zone" in keys


def test_a_new_model_version_or_script_rolls_the_pods(spec):
    template = deployment_spec(spec, service_account="sa", script_config_map="cm")["template"]["metadata"]
    assert template["annotations"] == {
        "recsys-dr/model-version": "7", "recsys-dr/fetch-script-sha256": "abc", "recsys-dr/manifest-sha256": "",
    }


def test_pdb_lets_one_pod_go_at_a_time(spec):
    assert pdb_spec(spec) == {"maxUnavailable": 1, "selector": {"matchLabels": spec.selector}}


def test_service_is_cluster_internal_and_rest_only(spec):
    # The balancer is Pulumi's: the Service only names the pods and their REST port for the binding.
    service = service_spec(spec)
    assert service["type"] == "ClusterIP"
    assert service["ports"] == [{"name": "http", "port": 8501, "targetPort": "http", "protocol": "TCP"}]


def test_binding_and_service_agree_on_port_and_the_port_is_the_pods_rest_port(spec, pod):
    """The controller resolves `serviceRef.port` against the Service's ports (by number or name)
    and registers each ready endpoint's target port (aws-load-balancer-controller
    apis/elbv2/v1beta1/targetgroupbinding_types.go ServiceReference; pkg/backend/endpoint_resolver.go)."""
    binding = target_group_binding_spec(spec, service_name="recommender-tf-serving",
                                        target_group_arn="arn:aws:elasticloadbalancing:us-west-2:1:targetgroup/t/1", vpc_id="vpc-1")
    ports = service_spec(spec)["ports"]
    (matched,) = [p for p in ports if binding["serviceRef"]["port"] in (p["port"], p["name"])]
    container_ports = {p["name"]: p["containerPort"] for p in pod["containers"][0]["ports"]}
    assert container_ports[matched["targetPort"]] == 8501
    # Everything the controller's mutating webhook would otherwise look up in AWS is given.
    assert {binding["targetType"], binding["ipAddressType"], binding["vpcID"]} == {"ip", "ipv4", "vpc-1"}
    assert "networking" not in binding  # the controller edits no security group


def test_readiness_gate_injection_is_asked_for_by_the_namespace_label():
    # docs/deploy/pod_readiness_gate.md: the webhook injects gates only in labelled namespaces.
    assert READINESS_GATE_LABEL == {"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"}


def test_tf_serving_batches_with_its_parameters_file_mounted_from_the_config_map(spec):
    batching = resolve_batching(max_batch_size=None, batch_timeout_micros=2000, num_batch_threads=None,
                                max_enqueued_batches=None, rest_api_num_threads=None, model_max_batch=64, cpu_millicores=3000)
    batched = dataclasses.replace(spec, batching_args=tuple(batching.server_args()), batching_checksum="b" * 64)
    pod = deployment_spec(batched, service_account="sa", script_config_map="cm", batching_config_map="batching")["template"]["spec"]
    args = pod["containers"][0]["args"]
    assert "--enable_batching=true" in args and "--rest_api_num_threads=128" in args
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "batching")
    assert f"--batching_parameters_file={mount['mountPath']}/batching_parameters.txt" in args
    assert {"name": "batching", "configMap": {"name": "batching"}} in pod["volumes"]


def test_a_pod_keeps_serving_while_the_balancer_drains_it(pod):
    from recsys_dr.components.serving.balancer import DEREGISTRATION_DELAY_SECONDS

    container = pod["containers"][0]
    sleep = container["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert 0 < sleep < pod["terminationGracePeriodSeconds"]
    assert DEREGISTRATION_DELAY_SECONDS < pod["terminationGracePeriodSeconds"]
