"""TF Serving Kubernetes objects, built by plain functions."""

import dataclasses

import pytest

from recsys_dr.components.serving.manifests import ServingSpec, deployment_spec, hpa_spec, pdb_spec, service_annotations, service_spec


@pytest.fixture
def spec() -> ServingSpec:
    return ServingSpec(
        model_name="recommender", model_version=7, bucket="models-standby", region="us-west-2",
        replicas=2, min_replicas=2, max_replicas=6, script_checksum="abc",
    )


@pytest.fixture
def pod(spec) -> dict:
    return deployment_spec(spec, service_account="reader", script_config_map="fetch-script")["template"]["spec"]


def test_hpa_owns_the_replica_count_unless_pilot_light(spec):
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


def test_hpa_bounds_and_target(spec):
    hpa = hpa_spec(spec, deployment_name="recommender-tf-serving")
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 6)
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "recommender-tf-serving"}
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 60


def test_pdb_lets_one_pod_go_at_a_time(spec):
    assert pdb_spec(spec) == {"maxUnavailable": 1, "selector": {"matchLabels": spec.selector}}


def test_service_is_an_nlb_for_rest_only(spec):
    service = service_spec(spec)
    assert service["type"] == "LoadBalancer"
    assert {(p["port"], p["targetPort"]) for p in service["ports"]} == {(80, "http")}
    annotations = service_annotations(spec)
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"
    assert not any("ssl" in key for key in annotations)


def test_a_certificate_adds_tls_on_443(spec):
    arn = "arn:aws:acm:us-west-2:123456789012:certificate/0d3e1c55-1111-4222-8333-944445555666"
    with_tls = dataclasses.replace(spec, tls_certificate_arn=arn)
    assert (443, "http") in {(p["port"], p["targetPort"]) for p in service_spec(with_tls)["ports"]}
    annotations = service_annotations(with_tls)
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-cert"] == arn
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-ports"] == "https"
    assert annotations["service.beta.kubernetes.io/aws-load-balancer-ssl-negotiation-policy"].startswith("ELBSecurityPolicy-TLS13")
