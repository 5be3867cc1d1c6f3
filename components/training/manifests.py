"""The training Job's Kubernetes objects as plain dicts (no resources): tested without the mock runtime.

The Job is **indexed** (`completionMode: Indexed`, kubernetes.io "Indexed Job for Parallel
Processing with Static Work Assignment"): the Job controller gives pod `i` the environment
variable `JOB_COMPLETION_INDEX=i` and the hostname `<job>-<i>`; with the pod template's
`subdomain` naming a headless Service in the namespace that selects the pods, every pod resolves
as `<job>-<i>.<service>` (kubernetes.io "Job with Pod-to-Pod Communication"). Each worker builds
`TF_CONFIG` from those (`recsys_dr.model.distributed.tf_config_from_env`); worker 0 publishes.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from recsys_dr.components.cluster.addons import GPU_POOL_LABEL, GPU_TAINT
from recsys_dr.components.serving.manifests import UNPRIVILEGED_UID
from recsys_dr.model.distributed import JOB_NAME_ENV, PORT_ENV, SUBDOMAIN_ENV, WORKERS_ENV

WORKER_PORT = 2222
NAMESPACE = "recsys-training"
TEMPLATE_KEY = "job.json"
"""The ConfigMap entry holding the Job template `recsys-dr train` starts."""
# Set by the Job controller on every pod it creates (kubernetes.io "Jobs": job-name labels).
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
WORK_DIR = "/work"
# Finished Jobs (and their pods' logs) stay a day for `recsys-dr train` and for people.
FINISHED_JOB_KEPT_SECONDS = 86_400


def kubernetes_name(model_name: str) -> str:
    """A DNS-1123 label from a model name ("Recs_v2" -> "recs-v2")."""
    return re.sub(r"[^a-z0-9-]+", "-", model_name.lower()).strip("-")[:30] or "model"


def job_name(model_name: str, stamp: str) -> str:
    """`<model>-train-<stamp>`: a Job per run; its pods' hostnames add `-<index>` (<= 63 characters)."""
    return f"{kubernetes_name(model_name)}-train-{stamp}"[:56]


@dataclass(frozen=True, kw_only=True)
class TrainingSpec:
    """What one training run needs (from the `training` settings and the deployment)."""

    model_name: str
    image: str
    workers: int
    gpus_per_worker: int
    cpu: str
    memory: str
    interactions: str
    catalog: str
    pseudonym_key_secret: str
    bucket: str
    region: str
    service_account: str
    service: str
    build_args: tuple[str, ...] = ()

    @property
    def selector(self) -> dict[str, str]:
        return {"app.kubernetes.io/name": f"{kubernetes_name(self.model_name)}-training"}


def headless_service_spec(spec: TrainingSpec) -> dict:
    """The Service whose name is the pods' `subdomain`: no cluster IP, so DNS answers with the pods
    themselves. `publishNotReadyAddresses`: workers look each other up while starting."""
    return {"clusterIP": "None", "selector": spec.selector, "publishNotReadyAddresses": True,
            "ports": [{"name": "collective", "port": WORKER_PORT, "targetPort": WORKER_PORT, "protocol": "TCP"}]}


def worker_script(spec: TrainingSpec) -> str:
    """Build on every worker (`--version` from `RECSYS_TRAIN_VERSION`); worker 0 then publishes."""
    build = ["python", "-m", "recsys_dr.model", "build", "--strategy", "multi-worker", "--interactions", spec.interactions,
             "--catalog", spec.catalog, "--model-name", spec.model_name, "--out", f"{WORK_DIR}/artifacts",
             "--no-progress", *spec.build_args]
    publish = ["python", "-m", "recsys_dr.model", "publish", f"{WORK_DIR}/artifacts/{spec.model_name}/\"$RECSYS_TRAIN_VERSION\"",
               "--bucket", spec.bucket, "--region", spec.region, "--no-progress"]
    return "\n".join([
        "set -eu",
        " ".join(map(shlex.quote, build)) + ' --version "$RECSYS_TRAIN_VERSION"',
        # Only the chief exported a version; the other workers are done.
        'if [ "$JOB_COMPLETION_INDEX" = 0 ]; then ' + " ".join(
            shlex.quote(a) if "$" not in a else a for a in publish) + "; fi",
    ])


def job_manifest(spec: TrainingSpec, *, name: str, namespace: str, version: int) -> dict:
    """The indexed Job of one run: `spec.workers` pods, all at once (the collectives need every
    worker), none retried (a lost worker fails the run rather than joining a finished ring)."""
    resources = {"cpu": spec.cpu, "memory": spec.memory, "nvidia.com/gpu": str(spec.gpus_per_worker)}
    env = [
        {"name": JOB_NAME_ENV, "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{JOB_NAME_LABEL}']"}}},
        {"name": WORKERS_ENV, "value": str(spec.workers)},
        {"name": SUBDOMAIN_ENV, "value": spec.service},
        {"name": PORT_ENV, "value": str(WORKER_PORT)},
        {"name": "RECSYS_TRAIN_VERSION", "value": str(version)},
        {"name": "AWS_REGION", "value": spec.region},
        {"name": "RECSYS_PSEUDONYM_KEY", "valueFrom": {"secretKeyRef": {"name": spec.pseudonym_key_secret, "key": "key"}}},
        {"name": "HOME", "value": WORK_DIR},
    ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": "recsys-dr", **spec.selector}},
        "spec": {
            "completionMode": "Indexed",
            "completions": spec.workers,
            "parallelism": spec.workers,
            "backoffLimit": 0,
            "ttlSecondsAfterFinished": FINISHED_JOB_KEPT_SECONDS,
            "template": {
                "metadata": {"labels": dict(spec.selector)},
                "spec": {
                    "subdomain": spec.service,
                    "restartPolicy": "Never",
                    "serviceAccountName": spec.service_account,
                    "automountServiceAccountToken": False,
                    "securityContext": {"runAsNonRoot": True, "runAsUser": UNPRIVILEGED_UID, "fsGroup": UNPRIVILEGED_UID,
                                        "seccompProfile": {"type": "RuntimeDefault"}},
                    "nodeSelector": dict(GPU_POOL_LABEL),
                    "tolerations": [{"key": GPU_TAINT["key"], "operator": "Exists", "effect": "NoSchedule"}],
                    "containers": [{
                        "name": "train",
                        "image": spec.image,
                        "command": ["sh", "-c", worker_script(spec)],
                        "env": env,
                        "ports": [{"name": "collective", "containerPort": WORKER_PORT, "protocol": "TCP"}],
                        "resources": {"requests": resources, "limits": dict(resources)},
                        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                            "readOnlyRootFilesystem": True},
                        "volumeMounts": [{"name": "work", "mountPath": WORK_DIR}, {"name": "tmp", "mountPath": "/tmp"}],
                    }],
                    "volumes": [{"name": "work", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
                },
            },
        },
    }
