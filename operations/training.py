"""`recsys-dr train`: start a training run on the primary cluster, follow it, print what to pin.

The stack's `training` section (`components.training.TrainingJob`) leaves a run template in the
primary cluster: a ConfigMap holding the `TrainingSpec`. A run is one indexed Job made from it by
`components.training.manifests.job_manifest` (the same function the tests render), for the next
free version of the model in the primary bucket (or `--version`). The Job's worker 0 publishes the
version (`python -m recsys_dr.model publish`, manifest last, `If-None-Match: *`); once the Job is
Complete this reads the version back from the bucket, verifies every file against its manifest
and prints the version and the manifest digest to pin in the stack file.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from recsys_dr.components.training.manifests import TrainingSpec, job_manifest, job_name
from recsys_dr.components.training.training_job import SPEC_KEY


class TrainingError(RuntimeError):
    """The run could not start, failed, or published nothing verifiable."""


@dataclass(frozen=True)
class TrainingResult:
    job: str
    model_name: str
    version: int
    manifest_sha256: str
    seconds: float


def training_outputs(raw: dict) -> tuple[str, str]:
    """`(namespace, template ConfigMap)` from the stack outputs' `training` section.

    Raises:
        TrainingError: the stack has no training Job (`training.enabled` is false).
    """
    section = raw.get("training")
    if not isinstance(section, dict) or not section.get("namespace") or not section.get("templateName"):
        raise TrainingError("the stack outputs have no `training` section: set `recsys-dr:training` with enabled: true "
                            "and run `pulumi up` first")
    return section["namespace"], section["templateName"]


def next_version(s3: Any, bucket: str, model_name: str, prefix: str = "models") -> int:
    """One above the highest version under `<prefix>/<model>/` in `bucket` (1 when there is none)."""
    versions = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/{model_name}/", Delimiter="/"):
        for common in page.get("CommonPrefixes", []):
            name = common["Prefix"].rstrip("/").rsplit("/", 1)[-1]
            if name.isdigit():
                versions.append(int(name))
    return max(versions, default=0) + 1


def _condition(job: dict) -> tuple[str, str] | None:
    """`("Complete" | "Failed", message)` once the Job controller has set one, else None."""
    for condition in job.get("status", {}).get("conditions") or []:
        if condition.get("type") in ("Complete", "Failed") and condition.get("status") == "True":
            return condition["type"], condition.get("message") or condition.get("reason") or ""
    return None


def run_training(*, kube: Any, s3: Any, namespace: str, template: str, version: int | None = None,
                 stamp: str | None = None, timeout: float = 86_400.0, poll_interval: float = 30.0,
                 log: Callable[[str], None] = print, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> TrainingResult:
    """Start one run from the template, follow it to the end, verify what it published.

    Raises:
        TrainingError: no template, the Job failed or timed out, or the version does not verify.
    """
    from recsys_dr.model.verify import verify_remote
    from recsys_dr.operations.kube import KubeError

    try:
        config_map = kube.request("GET", f"/api/v1/namespaces/{namespace}/configmaps/{template}")
        spec = TrainingSpec(**json.loads(config_map["data"][SPEC_KEY]))
    except (KubeError, KeyError, TypeError, ValueError) as exc:
        raise TrainingError(f"cannot read the run template {namespace}/{template}: {exc}") from None
    spec = dataclasses.replace(spec, build_args=tuple(spec.build_args))  # JSON gave a list
    version = version or next_version(s3, spec.bucket, spec.model_name)
    name = job_name(spec.model_name, stamp or time.strftime("%Y%m%dt%H%M%S", time.gmtime()))
    kube.request("POST", f"/apis/batch/v1/namespaces/{namespace}/jobs", job_manifest(spec, name=name, namespace=namespace,
                                                                                     version=version))
    log(f"started Job {namespace}/{name}: {spec.workers} worker(s), {spec.model_name} version {version}")
    start, last = clock(), None
    while True:
        job = kube.request("GET", f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}")
        status = job.get("status", {})
        progress = (status.get("active", 0), status.get("succeeded", 0), status.get("failed", 0))
        if progress != last:
            log(f"Job {name}: {progress[0]} active, {progress[1]} succeeded, {progress[2]} failed")
            last = progress
        ended = _condition(job)
        if ended is not None and ended[0] == "Failed":
            raise TrainingError(f"Job {namespace}/{name} failed: {ended[1]} (its pods' logs: kubectl logs -n {namespace} "
                                f"-l batch.kubernetes.io/job-name={name})")
        if ended is not None:
            break
        if clock() - start > timeout:
            raise TrainingError(f"Job {namespace}/{name} still running after {timeout:.0f} s; it keeps running "
                                "(follow it with kubectl, or delete it)")
        sleep(poll_interval)
    report = verify_remote(spec.bucket, spec.model_name, version, s3_client=s3)
    if not report.ok:
        raise TrainingError(f"Job {name} completed but s3://{spec.bucket}/models/{spec.model_name}/{version}/ does not "
                            f"verify: {report.summary()}")
    digest = _manifest_digest(s3, spec.bucket, spec.model_name, version)
    return TrainingResult(job=name, model_name=spec.model_name, version=version, manifest_sha256=digest,
                          seconds=clock() - start)


def _manifest_digest(s3: Any, bucket: str, model_name: str, version: int) -> str:
    import hashlib

    from recsys_dr.model.manifest import MANIFEST_NAME
    from recsys_dr.model.verify import version_prefix

    body = s3.get_object(Bucket=bucket, Key=version_prefix("models", model_name, version) + MANIFEST_NAME)["Body"].read()
    return hashlib.sha256(body).hexdigest()
