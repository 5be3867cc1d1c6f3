"""Kubernetes objects of TF Serving, as plain dicts (tested without the Pulumi runtime).

The pod runs two steps: an init container copies the pinned model version from the
region's bucket and verifies every file against `manifest.json`; only when it exits 0
does TF Serving start. A failed verification leaves the pod un-ready, and with
`maxUnavailable: 0` the old pods keep serving (`rollout.rolling_update` keeps that whenever the
GPU pool holds a surge pod).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from recsys_dr.components.cluster.addons import FALLBACK_POOL_LABEL, FALLBACK_TAINT, GPU_POOL_LABEL, GPU_TAINT
from recsys_dr.components.serving.batching import PARAMETERS_MOUNT

REST_PORT = 8501
# gRPC also carries ModelService (HandleReloadConfigRequest can unload every model):
# tensorflow_model_server registers it on every gRPC listener (model_servers/server.cc), so
# gRPC listens only on a unix socket inside the container; `--port=0` opens no TCP port
# ("Disabled if port set to zero", model_servers/main.cc). REST has no management calls.
GRPC_SOCKET = "/tmp/tf-serving-grpc.sock"
# TLS 1.3 and 1.2 only, forward-secret ciphers (Elastic Load Balancing User Guide, "Security
# policies for your Application Load Balancer"; the console's recommended policy).
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
MODELS_MOUNT = "/models"
SCRIPT_MOUNT = "/opt/recsys"
SCRIPT_NAME = "fetch_and_verify.sh"
FETCH_SCRATCH = "fetch-tmp"
SERVING_SCRATCH = "serving-tmp"
# Same TensorFlow release as the exporter (`model` extra), so every op in the SavedModel is known.
# Images are pinned by digest where one could be confirmed offline (the tag stays beside it for
# people; with both, the kubelet pulls by digest). docs/security.md ("Images and charts") says which.
DEFAULT_SERVING_IMAGE = "tensorflow/serving:2.21.0-gpu"
# The fallback tier's CPU build of the same release.
DEFAULT_FALLBACK_IMAGE = "tensorflow/serving:2.21.0"
# amazon/aws-cli 2.22.35's index digest, as pinned identically by several public projects.
DEFAULT_FETCHER_IMAGE = "amazon/aws-cli:2.22.35@sha256:6977c83ae3dc99f28fcf8276b9ea5eec33833cd5be40574b34112e98113ec7a2"
MANIFEST_DIGEST_ANNOTATION = "recsys-dr/manifest-sha256"
UNPRIVILEGED_UID = 65534  # "nobody": TF Serving and the AWS CLI need no identity of their own.
MIN_READY_SECONDS = 10
STARTUP_PERIOD_SECONDS = 5
STARTUP_FAILURE_THRESHOLD = 120  # 10 minutes for loading and warm-up on a cold GPU node
# pulumi-kubernetes' own await annotations (provider/pkg/metadata/annotations.go).
AWAIT_SKIP = "pulumi.com/skipAwait"
AWAIT_TIMEOUT = "pulumi.com/timeoutSeconds"
# The AWS Load Balancer Controller's pod mutating webhook adds a readiness gate
# (`target-health.elbv2.k8s.aws/<binding>`) to new pods of a labelled namespace whose Service a
# TargetGroupBinding of target type ip references; the pod is Ready only once healthy in the
# target group (aws-load-balancer-controller docs/deploy/pod_readiness_gate.md).
READINESS_GATE_LABEL = {"elbv2.k8s.aws/pod-readiness-gate-inject": "enabled"}
TARGET_GROUP_BINDING_API = "elbv2.k8s.aws/v1beta1"
BATCHING_CHECKSUM_ANNOTATION = "recsys-dr/batching-sha256"
# The balancer keeps routing to a pod for a few seconds after its endpoint goes (the controller
# deregisters it, then the target drains): TF Serving keeps serving that long before it stops.
# The `sleep` pre-stop action is on by default since Kubernetes 1.30 (PodLifecycleSleepAction).
PRE_STOP_SLEEP_SECONDS = 15
TERMINATION_GRACE_SECONDS = 30
STABLE_SLOT, CANDIDATE_SLOT = "stable", "candidate"
# Label values are at most 63 characters (Kubernetes apimachinery validation.IsValidLabelValue).
LABEL_VALUE_MAX = 63


def slot_instance(model_name: str, slot: str) -> str:
    """The `app.kubernetes.io/instance` label of a slot's pods. The stable pods keep the model name
    (a Deployment's selector is immutable); the candidate's differs, so no selector of one slot
    matches the other's pods (a selector matches any pod carrying its labels, extra labels or not)."""
    if slot == STABLE_SLOT:
        return model_name
    suffix = f"-{slot}"
    return model_name[:LABEL_VALUE_MAX - len(suffix)] + suffix


# Which node pool a tier's pods run on: its label and the taint they tolerate.
POOLS = {"gpu": (GPU_POOL_LABEL, GPU_TAINT), "fallback": (FALLBACK_POOL_LABEL, FALLBACK_TAINT)}
TIER_LABEL = "recsys-dr/tier"


@dataclass(frozen=True, kw_only=True)
class ServingSpec:
    """What to serve and how, in one region (all plain values).

    Attributes:
        model_name: TF Serving model name (also the bucket prefix `models/<name>/`).
        model_version: pinned integer version.
        bucket: name of the regional model bucket.
        region: the bucket's region (the init container talks only to it).
        replicas: 0 keeps a pilot-light region scaled down; any other value leaves the
            replica count to KEDA's autoscaler (the Deployment then omits it).
        min_replicas / max_replicas: the autoscaling bounds.
        serving_image: TF Serving GPU image. Default `DEFAULT_SERVING_IMAGE`.
        fetcher_image: image with the AWS CLI v2 and sha256sum for the init container.
            Default `DEFAULT_FETCHER_IMAGE`.
        gpus_per_pod: `nvidia.com/gpu` limit; 0 for the CPU fallback tier. Default 1.
        cpu / memory: requests and limits of the serving container.
        script_checksum: sha256 of the init script; a change rolls the pods.
        manifest_sha256: sha256 of the version's `manifest.json` pinned in the stack file; the
            init container refuses any other manifest, and a change rolls the pods.
        batching_args: TF Serving's batching flags (`batching.Batching.server_args`). Default none.
        batching_checksum: sha256 of the batching parameters file; a change rolls the pods.
        max_surge / max_unavailable: rolling-update parameters, from `rollout.rolling_update`.
            Default 1 / 0 (the pool holds one extra pod).
        slot: "stable", or "candidate" for the pods a release proves beside the stable ones.
            Default "stable".
        tier: "gpu" (a GPU region) or "fallback" (the CPU fallback tier): the node pool the pods run on.
            Default "gpu".
        artifact_name: the model's name in the bucket (`models/<artifact_name>/`) and in its manifest, when
            it differs from the name TF Serving serves it under (the fallback's `<name>-fallback`).
            Default: `model_name`.
    """

    model_name: str
    model_version: int
    bucket: str
    region: str
    replicas: int
    min_replicas: int
    max_replicas: int
    serving_image: str = DEFAULT_SERVING_IMAGE
    fetcher_image: str = DEFAULT_FETCHER_IMAGE
    gpus_per_pod: int = 1
    cpu: str = "3"
    memory: str = "12Gi"
    script_checksum: str = ""
    manifest_sha256: str = ""
    batching_args: tuple[str, ...] = ()
    batching_checksum: str = ""
    max_surge: int = 1
    max_unavailable: int = 0
    slot: str = STABLE_SLOT
    tier: str = "gpu"
    artifact_name: str = ""

    @property
    def selector(self) -> dict[str, str]:
        tier = {TIER_LABEL: self.tier} if self.tier != "gpu" else {}
        return {"app.kubernetes.io/name": "tf-serving", "app.kubernetes.io/instance": slot_instance(self.model_name, self.slot),
                **tier}

    @property
    def bucket_model_name(self) -> str:
        return self.artifact_name or self.model_name


def script_checksum(script: str) -> str:
    return hashlib.sha256(script.encode()).hexdigest()


def _restricted_security_context(*, read_only_root: bool = True) -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": read_only_root,
        "runAsNonRoot": True,
        "runAsUser": UNPRIVILEGED_UID,
        "runAsGroup": UNPRIVILEGED_UID,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def model_status_path(model_name: str) -> str:
    return f"/v1/models/{model_name}"


def deployment_spec(spec: ServingSpec, *, service_account: str, script_config_map: str,
                    batching_config_map: str | None = None) -> dict:
    """The Deployment `spec` of TF Serving with its verifying init container."""
    model_dir = f"{MODELS_MOUNT}/{spec.model_name}"
    # Only a pilot light pins the count (KEDA leaves a Deployment at zero until it is activated);
    # otherwise the autoscaler owns `replicas` and `pulumi up` must not reset a scaled-out fleet.
    replicas = {"replicas": 0} if spec.replicas == 0 else {}
    pool_label, taint = POOLS[spec.tier]
    return {
        **replicas,
        "selector": {"matchLabels": spec.selector},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": spec.max_unavailable, "maxSurge": spec.max_surge}},
        "minReadySeconds": MIN_READY_SECONDS,
        "revisionHistoryLimit": 5,
        "template": {
            "metadata": {
                "labels": spec.selector,
                "annotations": {
                    "recsys-dr/model-version": str(spec.model_version),
                    "recsys-dr/fetch-script-sha256": spec.script_checksum,
                    MANIFEST_DIGEST_ANNOTATION: spec.manifest_sha256,
                    **({BATCHING_CHECKSUM_ANNOTATION: spec.batching_checksum} if spec.batching_checksum else {}),
                },
            },
            "spec": {
                "serviceAccountName": service_account,
                # Pod Identity mounts its own audience-scoped token; the API token is not needed.
                "automountServiceAccountToken": False,
                "securityContext": {
                    "runAsNonRoot": True,
                    "runAsUser": UNPRIVILEGED_UID,
                    "fsGroup": UNPRIVILEGED_UID,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "nodeSelector": dict(pool_label),
                "tolerations": [{"key": taint["key"], "operator": "Exists", "effect": "NoSchedule"}],
                "topologySpreadConstraints": _spread(spec.selector),
                "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                "initContainers": [_fetch_container(spec, model_dir)],
                "containers": [_serving_container(spec, model_dir, batching_config_map)],
                "volumes": [
                    {"name": "models", "emptyDir": {}},
                    # One scratch volume per container: nothing TF Serving can write is read by
                    # the init container, which alone writes /models.
                    {"name": FETCH_SCRATCH, "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                    {"name": SERVING_SCRATCH, "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
                    {"name": "fetch-script", "configMap": {"name": script_config_map, "defaultMode": 0o555}},
                    *([{"name": "batching", "configMap": {"name": batching_config_map}}] if batching_config_map else []),
                ],
            },
        },
    }


def _spread(selector: dict) -> list[dict]:
    """Spread the pods over zones, then nodes."""
    return [
        {
            "maxSkew": 1,
            "topologyKey": "topology.kubernetes.io/zone",
            # ScheduleAnyway: a one-node pilot-light pool must still schedule.
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector},
        },
        {
            "maxSkew": 1,
            "topologyKey": "kubernetes.io/hostname",
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector},
        },
    ]


def _fetch_container(spec: ServingSpec, model_dir: str) -> dict:
    """The init container that fetches the pinned version and verifies it against its manifest digest."""
    return {
        "name": "fetch-and-verify-model",
        "image": spec.fetcher_image,
        "command": ["sh", f"{SCRIPT_MOUNT}/{SCRIPT_NAME}"],
        "env": [
            {"name": "MODEL_BUCKET", "value": spec.bucket},
            {"name": "MODEL_PREFIX", "value": "models"},
            {"name": "MODEL_NAME", "value": spec.bucket_model_name},
            {"name": "MODEL_VERSION", "value": str(spec.model_version)},
            {"name": "MANIFEST_SHA256", "value": spec.manifest_sha256},
            {"name": "TARGET_DIR", "value": model_dir},
            {"name": "AWS_REGION", "value": spec.region},
            {"name": "AWS_DEFAULT_REGION", "value": spec.region},
            # HOME is this container's own scratch volume, and the CLI reads no config
            # file: a `credential_process` planted there would run with this
            # container's write access to /models (AWS CLI: AWS_CONFIG_FILE and
            # AWS_SHARED_CREDENTIALS_FILE replace ~/.aws/config and ~/.aws/credentials).
            {"name": "HOME", "value": "/tmp"},
            {"name": "AWS_CONFIG_FILE", "value": "/dev/null"},
            {"name": "AWS_SHARED_CREDENTIALS_FILE", "value": "/dev/null"},
        ],
        "resources": {
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "securityContext": _restricted_security_context(),
        "volumeMounts": [
            {"name": "models", "mountPath": MODELS_MOUNT},
            {"name": "fetch-script", "mountPath": SCRIPT_MOUNT, "readOnly": True},
            {"name": FETCH_SCRATCH, "mountPath": "/tmp"},
        ],
    }


def _serving_container(spec: ServingSpec, model_dir: str, batching_config_map: str | None) -> dict:
    """TF Serving on the verified version: REST only, probes on the model's status, batching if configured."""
    status_probe = {"httpGet": {"path": model_status_path(spec.model_name), "port": "http"}}
    gpus = {"nvidia.com/gpu": str(spec.gpus_per_pod)} if spec.gpus_per_pod else {}
    return {
        "name": "tf-serving",
        "image": spec.serving_image,
        # Bypass the image's entrypoint script, which adds its own --model_name/--port flags.
        "command": ["tensorflow_model_server"],
        "args": [
            f"--model_name={spec.model_name}",
            f"--model_base_path={model_dir}",
            "--port=0",
            f"--grpc_socket_path={GRPC_SOCKET}",
            f"--rest_api_port={REST_PORT}",
            # The init container already verified this exact version; never poll for others.
            "--file_system_poll_wait_seconds=0",
            *spec.batching_args,
        ],
        "ports": [{"name": "http", "containerPort": REST_PORT, "protocol": "TCP"}],
        "resources": {
            "requests": {"cpu": spec.cpu, "memory": spec.memory, **gpus},
            "limits": {"cpu": spec.cpu, "memory": spec.memory, **gpus},
        },
        # tensorflow_model_server opens its ports only after the initial version has
        # loaded and replayed its warm-up requests, so a 200 here means AVAILABLE.
        # Loading plus warm-up can take minutes on a cold GPU node.
        # TF Serving serves the version under `model_name` whatever its bucket name, so
        # clients of the fallback keep the path and request of the GPU tiers.
        "startupProbe": {**status_probe, "periodSeconds": STARTUP_PERIOD_SECONDS, "failureThreshold": STARTUP_FAILURE_THRESHOLD},
        "readinessProbe": {**status_probe, "periodSeconds": 5, "timeoutSeconds": 2, "failureThreshold": 3},
        # The model's status, not a socket: a server whose model was unloaded answers
        # 404 here and is restarted (and reloads the verified version).
        "livenessProbe": {**status_probe, "periodSeconds": 10, "timeoutSeconds": 2, "failureThreshold": 6},
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SLEEP_SECONDS}}},
        "securityContext": _restricted_security_context(),
        "volumeMounts": [
            {"name": "models", "mountPath": MODELS_MOUNT, "readOnly": True},
            {"name": SERVING_SCRATCH, "mountPath": "/tmp"},
            *([{"name": "batching", "mountPath": PARAMETERS_MOUNT, "readOnly": True}] if batching_config_map else []),
        ],
    }


def service_spec(spec: ServingSpec) -> dict:
    """A ClusterIP Service for REST only: what the TargetGroupBinding resolves to pod IPs on 8501.

    No load balancer of its own: the Application Load Balancer is Pulumi's, and the AWS Load
    Balancer Controller registers the Service's ready endpoints in its target group.
    """
    return {"type": "ClusterIP", "selector": spec.selector,
            "ports": [{"name": "http", "port": REST_PORT, "targetPort": "http", "protocol": "TCP"}]}


def target_group_binding_spec(spec: ServingSpec, *, service_name: str, target_group_arn: str, vpc_id: str) -> dict:
    """Bind the Service's pods (by IP) to the Pulumi-made target group.

    Target type, IP address type and VPC are given, so the controller's mutating
    webhook has nothing to look up (webhooks/elbv2/targetgroupbinding_mutator.go). No
    `networking` rules: the controller edits no security group; the rule admitting the balancer
    to the nodes is Pulumi's.
    """
    return {
        "serviceRef": {"name": service_name, "port": REST_PORT},
        "targetGroupARN": target_group_arn,
        "targetType": "ip",
        "ipAddressType": "ipv4",
        "vpcID": vpc_id,
    }


def deployment_annotations(*, await_rollout: bool, timeout_seconds: int) -> dict[str, str]:
    """How `pulumi up` waits for the Deployment: until the rollout completes, bounded by
    `timeout_seconds` (`rollout.rollout_timeout_seconds`), or not at all."""
    if not await_rollout:
        return {AWAIT_SKIP: "true"}
    return {AWAIT_TIMEOUT: str(timeout_seconds)}


def pdb_spec(spec: ServingSpec) -> dict:
    """Voluntary disruptions (node drains, upgrades) take one pod at a time."""
    return {"maxUnavailable": 1, "selector": {"matchLabels": spec.selector}}
