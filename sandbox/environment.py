"""`Sandbox`: one deployed environment's AWS, Kubernetes and TF Serving, as stand-ins on 127.0.0.1.

It starts from a stack-outputs document (what `pulumi stack output --json` prints; `recsys-dr
sandbox` renders the stack's program under Pulumi's mocks to get it), creates in moto what those
outputs name, as the components create it, starts a Kubernetes API and a TF Serving endpoint per
region, and answers the outputs again with the values only a deployment knows (endpoints, health
check ids, KMS key ARNs, the hosted zone id) replaced by the stand-ins' own.

Per region:

* S3: the versioned model bucket, the pinned version published into it with `model publish`
  (the standby's copy stands for S3 replication), the primary's replication rule;
* EKS: the cluster and its GPU node group at `gpuScaling`; `DescribeCluster` answers the fake
  Kubernetes API (HTTPS, its own CA, `sandbox.kube`), whose Deployment, HPA and GPU nodes start as
  the outputs' `serving` sizes and `gpuScaling` say;
* TF Serving (`sandbox.serving`) answering while a serving pod is Ready, as a load balancer would;
* Route 53: the hosted zone, an HTTP string-match health check per region, the failover pair.

Stand-ins for new outputs go in `_start_region` / `_start_dns` (one helper per AWS service) and in
`outputs()` (the output values they replace). The fallback tier has no stand-ins yet: `outputs()`
leaves its section out, so the tools see a stack without one.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recsys_dr.sandbox import seed
from recsys_dr.sandbox.aws import AwsServer
from recsys_dr.sandbox.kube import FakeKube
from recsys_dr.sandbox.serving import FakeServing
from recsys_dr.sandbox.tls import make_server_certificate

ROLES = ("primary", "standby")
HOSTS = {"primary": "127.0.0.1", "standby": "localhost"}
"""Two names for the loopback address: Route 53 answers (and `status` tells the regions apart) by host name."""


@dataclass
class RegionStandIns:
    role: str
    region: str
    kube: FakeKube
    serving: FakeServing
    kms_key_arn: str | None
    health_check_id: str = ""

    @property
    def endpoint(self) -> str:
        return f"{HOSTS[self.role]}:{self.serving.port}"


@dataclass
class Sandbox:
    """Start with `start()`, stop with `stop()` (or use it as a context manager).

    Args:
        template: dict, stack outputs as `pulumi stack output --json` prints them.
        workdir: Path, where the model version is built before it is published.
        port: int, the AWS endpoint's port on 127.0.0.1; 0 picks a free one. Default 0.
        join_polls: int, node-list polls before new GPU nodes are Ready. Default 1.
    """

    template: dict[str, Any]
    workdir: Path
    port: int = 0
    join_polls: int = 1
    aws: AwsServer | None = None
    regions: dict[str, RegionStandIns] = field(default_factory=dict)
    zone_id: str = ""
    manifest_sha256: str = ""
    started_seconds: float = 0.0

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        assert self.aws is not None, "start() first"
        return self.aws.url

    def start(self) -> "Sandbox":
        began = time.monotonic()
        try:
            self.aws = AwsServer(port=self.port)
            tls = make_server_certificate()
            for role in ROLES:
                self.regions[role] = self._start_region(role, tls)
            self._start_storage()
            self._start_dns()
        except BaseException:
            self.stop()
            raise
        self.started_seconds = round(time.monotonic() - began, 2)
        return self

    def _start_region(self, role: str, tls) -> RegionStandIns:
        out = self.template["regions"][role]
        region, aws = out["region"], self.aws
        kms = seed.model_bucket(aws.client("s3", region), aws.client("kms", region), bucket=out["bucket"],
                                region=region)
        seed.gpu_cluster(aws.client("eks", region), cluster=out["clusterName"], node_group=out["gpuNodeGroupName"],
                         scaling=out["gpuScaling"])
        serving = out.get("serving") or {"replicas": 1, "minReplicas": 1, "maxReplicas": 1}
        eks = aws.client("eks", region)

        def desired() -> int:
            return eks.describe_nodegroup(clusterName=out["clusterName"], nodegroupName=out["gpuNodeGroupName"]
                                          )["nodegroup"]["scalingConfig"]["desiredSize"]

        kube = FakeKube(namespace=out["namespace"], deployment=out["deploymentName"],
                        hpa=out.get("hpaName") or out["deploymentName"], node_group=out["gpuNodeGroupName"],
                        replicas=serving["replicas"], hpa_min=serving["minReplicas"], hpa_max=serving["maxReplicas"],
                        desired=desired, join_polls=self.join_polls, pods_per_node=out.get("podsPerGpuNode") or 1,
                        ready_nodes=out["gpuScaling"]["desiredSize"], tls=tls)
        aws.register_cluster(region, out["clusterName"], endpoint=kube.url, ca_data=tls.ca_data)
        model = self.template["model"]
        serving_stand_in = FakeServing(model["name"], {str(model["version"]): "AVAILABLE"},
                                       ready=lambda: kube.available_pods() > 0)
        return RegionStandIns(role=role, region=region, kube=kube, serving=serving_stand_in, kms_key_arn=kms)

    def _start_storage(self) -> None:
        """The pinned version in both buckets (published; the standby's copy stands for replication)
        and the primary's replication rule."""
        model, regions = self.template["model"], self.template["regions"]
        version_dir = seed.canned_version(self.workdir / "artifacts", model=model["name"], version=model["version"])
        for role in ROLES:
            s3 = self.aws.client("s3", regions[role]["region"])
            self.manifest_sha256 = seed.publish_version(s3, bucket=regions[role]["bucket"], version_dir=version_dir)
        self.aws.client("s3", regions["primary"]["region"]).put_bucket_replication(
            Bucket=regions["primary"]["bucket"],
            ReplicationConfiguration=seed.replication_configuration(
                standby_bucket=regions["standby"]["bucket"], standby_key_arn=self.regions["standby"].kms_key_arn))

    def _start_dns(self) -> None:
        dns, model = self.template["dns"], self.template["model"]
        r53 = self.aws.client("route53", "us-east-1")
        self.zone_id = seed.hosted_zone(r53, record_name=dns["recordName"])
        for role, stand_in in self.regions.items():
            stand_in.health_check_id = seed.serving_health_check(
                r53, role=role, host=HOSTS[role], port=stand_in.serving.port, model=model["name"],
                interval=dns["healthCheckIntervalSeconds"], threshold=dns["failureThreshold"])
        seed.failover_records(r53, zone_id=self.zone_id, record_name=dns["recordName"], ttl=dns["ttl"],
                              hosts=HOSTS, health_check_ids={r: s.health_check_id for r, s in self.regions.items()})

    def outputs(self) -> dict[str, Any]:
        """The template with what only a deployment knows replaced by the stand-ins' values."""
        doc = copy.deepcopy(self.template)
        doc.pop("fallback", None)  # no stand-ins for the fallback tier (module docstring)
        doc["dns"]["zoneId"] = self.zone_id
        for role, stand_in in self.regions.items():
            region = doc["regions"][role]
            region.update(endpoint=stand_in.endpoint, healthCheckId=stand_in.health_check_id,
                          kmsKeyArn=stand_in.kms_key_arn)
        if isinstance(doc.get("modelArtifact"), dict):
            doc["modelArtifact"]["manifestSha256"] = self.manifest_sha256
        return doc

    def environment(self) -> dict[str, str]:
        """Environment variables that send every AWS call of `recsys-dr` to the stand-ins."""
        return {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": "sandbox",
                "AWS_SECRET_ACCESS_KEY": "sandbox", "AWS_EC2_METADATA_DISABLED": "true"}

    def write(self, folder: Path) -> dict[str, Path]:
        """Write `outputs.json` (stack outputs) and `env` (shell exports) into `folder`."""
        folder.mkdir(parents=True, exist_ok=True)
        outputs, env = folder / "outputs.json", folder / "env"
        outputs.write_text(json.dumps(self.outputs(), indent=2, sort_keys=True) + "\n")
        lines = ["# recsys-dr sandbox: AWS calls go to the stand-ins on 127.0.0.1, with throw-away keys.",
                 "unset AWS_PROFILE AWS_SESSION_TOKEN"]
        lines += [f"export {key}={value}" for key, value in self.environment().items()]
        env.write_text("\n".join(lines) + "\n")
        return {"outputs": outputs, "env": env}

    def stop(self) -> None:
        """Stop every server this sandbox started (safe to call twice)."""
        for stand_in in self.regions.values():
            for server in (stand_in.serving, stand_in.kube):
                server.stop()
        self.regions = {}
        if self.aws is not None:
            self.aws.stop()
            self.aws = None
