"""`Sandbox`: one deployed environment's AWS, Kubernetes and TF Serving, as stand-ins on loopback addresses.

It starts from a stack-outputs document (what `pulumi stack output --json` prints; `recsys-dr
sandbox` renders the stack's program under Pulumi's mocks to get it), creates in moto what those
outputs name, as the components create it, starts a Kubernetes API and a TF Serving endpoint per
region, and answers the outputs again with the values only a deployment knows (endpoints, health
check ids, KMS key ARNs, the hosted zone id) replaced by the stand-ins' own.

Per region:

* S3: the versioned model bucket, the pinned version published into it with `model publish`
  (the standby's copy stands for S3 replication), the primary's replication rule;
* EKS: the cluster and its GPU node group at `gpuScaling`; `DescribeCluster` answers the fake
  Kubernetes API (HTTPS, its own CA, `sandbox.kube`), whose Deployment, KEDA ScaledObject (and the
  HPA KEDA owns) and GPU nodes start as the outputs' `serving` sizes and `gpuScaling` say;
* TF Serving (`sandbox.serving`) answering while a serving pod is Ready, as a load balancer would
  (over HTTPS with a certificate for the record name when the front door has one);
* the front door: the balancer, its target group, listener, rules and web ACL in moto, and the
  TargetGroupBinding that registers the Ready pods as targets (`sandbox.front_door`), so
  `DescribeTargetHealth` answers for the pods the fake Kubernetes API runs;
* Route 53: the hosted zone, an HTTP string-match health check per region, the failover pair.

With a `fallback` section, the CPU fallback tier too, as a third set of stand-ins (`"fallback"`,
on 127.0.0.3) in the standby region: its version published into the standby's bucket, its pods'
Kubernetes API, its TF Serving endpoint and front door, its health check, and the DNS cascade
(primary GPU -> standby GPU -> fallback) laid out by `components.dns.failover_records.record_layout`.

Stand-ins for new outputs: one `_start_<piece>` method each, called from `_start_region` (per
tier) or `start` (once), and the output values they replace in `outputs()`.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from recsys_dr.sandbox import seed
from recsys_dr.sandbox.aws import AwsServer
from recsys_dr.sandbox.front_door import TargetGroupBinding
from recsys_dr.sandbox.kube import FakeKube
from recsys_dr.sandbox.serving import FakeServing
from recsys_dr.sandbox.tls import ServerCertificate, make_server_certificate, server_context, trust_bundle

ROLES = ("primary", "standby")
FALLBACK = "fallback"
HOSTS = {"primary": "127.0.0.1", "standby": "127.0.0.2", FALLBACK: "127.0.0.3"}
"""One loopback address per tier, standing in for its balancer's DNS name: Route 53 answers a
front door's alias with addresses, and `recsys-dr` tells the tiers apart by them. Linux routes all
of 127.0.0.0/8 to the loopback interface; macOS needs `sudo ifconfig lo0 alias 127.0.0.2` (and .3)."""
WEB_ACL, RECORD = "aws:wafv2/webAcl:WebAcl", "aws:route53/record:Record"
"""Plan resource types whose inputs the sandbox reads (what the outputs do not carry)."""


@dataclass
class RegionStandIns:
    role: str
    region: str
    kube: FakeKube
    serving: FakeServing
    kms_key_arn: str | None
    health_check_id: str = ""
    front_door: dict[str, str] = field(default_factory=dict)  # loadBalancerArn, targetGroupArn, webAclArn

    @property
    def endpoint(self) -> str:
        return f"{HOSTS[self.role]}:{self.serving.port}"


@dataclass
class Sandbox:
    """Start with `start()`, stop with `stop()` (or use it as a context manager).

    Args:
        template: dict, stack outputs as `pulumi stack output --json` prints them.
        workdir: Path, where the model version is built before it is published.
        resources: list[dict], the plan's resources (`recsys-dr plan --json`, "resources"), for what
            the outputs do not carry: each front door's web ACL rules, its alias records'
            EvaluateTargetHealth. Needed when the outputs have a `frontDoor`. Default none.
        port: int, the AWS endpoint's port on 127.0.0.1; 0 picks a free one. Default 0.
        join_polls: int, node-list polls before new GPU nodes are Ready. Default 1.
    """

    template: dict[str, Any]
    workdir: Path
    resources: list[dict[str, Any]] = field(default_factory=list)
    port: int = 0
    join_polls: int = 1
    aws: AwsServer | None = None
    regions: dict[str, RegionStandIns] = field(default_factory=dict)
    zone_id: str = ""
    front_door_tls: ServerCertificate | None = None
    manifest_sha256: str = ""
    fallback_manifest_sha256: str = ""
    started_seconds: float = 0.0

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *_exc: Any) -> None:
        self.stop()

    @property
    def endpoint_url(self) -> str:
        return self._aws.url

    @property
    def _aws(self) -> AwsServer:
        assert self.aws is not None, "start() first"
        return self.aws

    def start(self) -> "Sandbox":
        began = time.monotonic()
        try:
            self.aws = AwsServer(port=self.port)
            tls = make_server_certificate()
            if any(self._https(role) for role in ROLES):  # the balancers' certificate names the record
                self.front_door_tls = make_server_certificate(
                    dns_names=(self.template["dns"]["recordName"].rstrip("."),), ip_addresses=())
                trust_bundle(self.front_door_tls, self.trust_file)
            for role in self.tiers:
                self.regions[role] = self._start_region(role, tls)
            self._start_storage()
            self._start_dns()
        except BaseException:
            self.stop()
            raise
        self.started_seconds = round(time.monotonic() - began, 2)
        return self

    @property
    def tiers(self) -> tuple[str, ...]:
        """The serving tiers the outputs describe: both regions, and the fallback when there is one."""
        return ROLES + ((FALLBACK,) if self.template.get(FALLBACK) else ())

    def _section(self, role: str) -> dict[str, Any]:
        """The outputs' section of a tier: `regions.<role>`, or `fallback`."""
        return self.template[FALLBACK] if role == FALLBACK else self.template["regions"][role]

    def _start_region(self, role: str, tls) -> RegionStandIns:
        """One tier's stand-ins: bucket, cluster, serving endpoint, front door."""
        out = self._section(role)
        if role == FALLBACK:  # the standby's bucket and cluster; its own pods, endpoint and front door
            kms, kube = self.regions["standby"].kms_key_arn, self._start_fallback_pods(out, tls)
        else:
            kms, kube = self._start_bucket(out), self._start_cluster(role, out, tls)
        stand_in = RegionStandIns(role=role, region=out["region"], kube=kube, serving=self._start_serving(role, kube),
                                  kms_key_arn=kms)
        self.regions[role] = stand_in  # `stop()` reaches its servers from here on
        stand_in.front_door = self._start_front_door(role, out, stand_in)
        return stand_in

    def _start_bucket(self, out: dict[str, Any]) -> str | None:
        """The versioned model bucket and its KMS key; returns the key's ARN."""
        region = out["region"]
        return seed.model_bucket(self._aws.client("s3", region), self._aws.client("kms", region), bucket=out["bucket"],
                                 region=region)

    def _start_cluster(self, role: str, out: dict[str, Any], tls) -> FakeKube:
        """The EKS cluster and GPU node group in moto, and its Kubernetes API."""
        region, aws = out["region"], self._aws
        eks = aws.client("eks", region)
        seed.gpu_cluster(eks, cluster=out["clusterName"], node_group=out["gpuNodeGroupName"],
                         scaling=out["gpuScaling"])
        serving = out.get("serving") or {"replicas": 1, "minReplicas": 1, "maxReplicas": 1}
        scaled_object = out.get("scaledObjectName")
        # As ModelServing writes the ScaledObject: minReplicaCount 0 for a Deployment resting at 0
        # (pilot light), scale-in paused on every standby (components/serving/scaling.py).
        floor = 0 if scaled_object and serving["replicas"] == 0 else serving["minReplicas"]

        def desired() -> int:
            return eks.describe_nodegroup(clusterName=out["clusterName"], nodegroupName=out["gpuNodeGroupName"]
                                          )["nodegroup"]["scalingConfig"]["desiredSize"]

        kube = FakeKube(namespace=out["namespace"], deployment=out["deploymentName"],
                        hpa=out.get("hpaName") or out["deploymentName"], node_group=out["gpuNodeGroupName"],
                        replicas=serving["replicas"], hpa_min=floor, hpa_max=serving["maxReplicas"],
                        scaled_object=scaled_object, paused_scale_in=bool(scaled_object) and role == "standby",
                        desired=desired, join_polls=self.join_polls, pods_per_node=out.get("podsPerGpuNode") or 1,
                        ready_nodes=out["gpuScaling"]["desiredSize"], tls=tls)
        aws.register_cluster(region, out["clusterName"], endpoint=kube.url, ca_data=tls.ca_data)
        return kube

    def _start_fallback_pods(self, out: dict[str, Any], tls) -> FakeKube:
        """The fallback's Deployment on its CPU node group, at its `serving` size (nodes enough for it)."""
        serving = out["serving"]
        return FakeKube(namespace=out["namespace"], deployment=out["deploymentName"], hpa=out["hpaName"],
                        node_group=out["nodeGroupName"], replicas=serving["replicas"], hpa_min=serving["minReplicas"],
                        hpa_max=serving["maxReplicas"], scaled_object=out.get("scaledObjectName"),
                        desired=lambda: serving["replicas"], join_polls=self.join_polls,
                        ready_nodes=serving["replicas"], tls=tls)

    def _https(self, role: str) -> bool:
        return (self._section(role).get("frontDoor") or {}).get("scheme") == "https"

    def _start_serving(self, role: str, kube: FakeKube) -> FakeServing:
        """TF Serving's REST API at the tier's endpoint (as its front door speaks it), answering
        while a pod is Ready. The fallback serves its version under the main model's name."""
        model = self.template["model"]
        version = self.template[FALLBACK]["model"]["version"] if role == FALLBACK else model["version"]
        tls = server_context(self.front_door_tls) if self._https(role) and self.front_door_tls else None
        try:
            return FakeServing(model["name"], {str(version): "AVAILABLE"}, host=HOSTS[role],
                               ready=lambda: kube.available_pods() > 0, tls=tls)
        except OSError as exc:
            raise OSError(f"cannot listen on {HOSTS[role]} ({exc.strerror or exc}); on macOS add the address "
                          f"with `sudo ifconfig lo0 alias {HOSTS[role]}`") from exc

    def _start_front_door(self, role: str, out: dict[str, Any], stand_in: RegionStandIns) -> dict[str, str]:
        """The balancer, target group, listener, rules and web ACL in moto, as `FrontDoor` creates them,
        and the pods' TargetGroupBinding; returns their ARNs (none for outputs without a `frontDoor`)."""
        planned = out.get("frontDoor")
        if not planned:
            return {}
        region, aws, model = out["region"], self._aws, self.template["model"]["name"]
        acl = self._planned(WEB_ACL, lambda r: (r.get("computed") or {}).get("arn") == planned["webAclArn"])
        certificate = None
        if planned["scheme"] == "https":  # the listener needs a certificate for the record name
            certificate = aws.client("acm", region).request_certificate(
                DomainName=self.template["dns"]["recordName"].rstrip("."))["CertificateArn"]
        net = seed.network(aws.client("ec2", region), region=region)
        arns = seed.front_door(aws.client("ec2", region), aws.client("elbv2", region), model=model, net=net,
                               load_balancer_name=seed.arn_name(planned["loadBalancerArn"]),
                               target_group_name=seed.arn_name(planned["targetGroupArn"]),
                               canary_target_group_name=seed.arn_name(planned["canaryTargetGroupArn"])
                               if planned.get("canaryTargetGroupArn") else None,
                               tls_certificate_arn=certificate)
        arns["webAclArn"] = seed.web_acl(aws.client("wafv2", region), name=seed.arn_name(planned["webAclArn"]),
                                         rules=json.loads(acl["ruleJson"]), resource_arn=arns["loadBalancerArn"])
        # Without a candidate the stable pods are the canary group's targets too (ModelServing._canary_at_rest).
        candidate = ((out.get("model") or {}) if isinstance(out.get("model"), dict) else {}).get("candidate")
        for group in ("targetGroupArn",) if candidate else ("targetGroupArn", "canaryTargetGroupArn"):
            self._start_target_group_binding(role, stand_in, target_group_arn=arns[group], pod_cidr=net["subnets"][0]["cidr"])
        # The stand-in's address plays the balancer's DNS name: Route 53 aliases of it follow its targets.
        aws.register_balancer(HOSTS[role], region=region, load_balancer_arn=arns["loadBalancerArn"])
        return arns

    def _start_target_group_binding(self, role: str, stand_in: RegionStandIns, *, target_group_arn: str,
                                    pod_cidr: str) -> None:
        """The AWS Load Balancer Controller's part: the cluster's Ready pods as the group's targets."""
        from recsys_dr.components.serving.manifests import REST_PORT

        aws, region, serving = self._aws, stand_in.region, stand_in.serving
        aws.bind_target_group(TargetGroupBinding(
            elbv2=lambda: aws.client("elbv2", region), target_group_arn=target_group_arn,
            pods=stand_in.kube.available_pods, pod_cidr=pod_cidr, port=REST_PORT,
            answer=lambda path: serving.pod_answer("GET", path)[0]))

    def _planned(self, kind: str, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        """The inputs of the plan's one resource of type `kind` that `match(resource)` picks."""
        found = [r["inputs"] for r in self.resources if r.get("type") == kind and match(r)]
        if len(found) != 1:
            raise ValueError(f"expected one {kind} in the plan's resources, found {len(found)}: "
                             "pass the plan's resources as `Sandbox(resources=...)`")
        return found[0]

    def _start_storage(self) -> None:
        """The pinned version in both buckets (published; the standby's copy stands for replication)
        and the primary's replication rule."""
        model, regions = self.template["model"], self.template["regions"]
        version_dir = seed.canned_version(self.workdir / "artifacts", model=model["name"], version=model["version"])
        for role in ROLES:
            s3 = self._aws.client("s3", regions[role]["region"])
            # The digest this publish produced is the one to pin, as a deployer pins its own publish.
            self.manifest_sha256 = seed.publish_version(s3, bucket=regions[role]["bucket"], version_dir=version_dir)
        if FALLBACK in self.tiers:  # in the standby's bucket, where the fallback tier reads it
            fallback = self.template[FALLBACK]["model"]
            fallback_dir = seed.canned_version(self.workdir / "artifacts", model=fallback["name"], version=fallback["version"])
            self.fallback_manifest_sha256 = seed.publish_version(
                self._aws.client("s3", regions["standby"]["region"]), bucket=regions["standby"]["bucket"],
                version_dir=fallback_dir)
        self._aws.client("s3", regions["primary"]["region"]).put_bucket_replication(
            Bucket=regions["primary"]["bucket"],
            ReplicationConfiguration=seed.replication_configuration(
                standby_bucket=regions["standby"]["bucket"], standby_key_arn=self.regions["standby"].kms_key_arn))

    def _start_dns(self) -> None:
        """The hosted zone, each region's health check on its endpoint, the failover records."""
        dns, model = self.template["dns"], self.template["model"]
        r53 = self._aws.client("route53", "us-east-1")
        self.zone_id = seed.hosted_zone(r53, record_name=dns["recordName"])
        for role, stand_in in self.regions.items():
            stand_in.health_check_id = seed.serving_health_check(
                r53, role=role, host=HOSTS[role], port=stand_in.serving.port, model=model["name"],
                interval=dns["healthCheckIntervalSeconds"], threshold=dns["failureThreshold"], https=self._https(role))
        checks = {r: s.health_check_id for r, s in self.regions.items()}
        if all(stand_in.front_door for stand_in in self.regions.values()):
            self._start_alias_records(r53, checks)
        else:  # outputs of a stack without front doors: CNAMEs of the endpoints
            seed.failover_records(r53, zone_id=self.zone_id, record_name=dns["recordName"], ttl=dns["ttl"],
                                  hosts=HOSTS, health_check_ids=checks)

    def _start_alias_records(self, r53: Any, checks: dict[str, str]) -> None:
        """The failover aliases of the balancers `DnsFailover` creates (EvaluateTargetHealth as planned)."""
        targets = {}
        for role, stand_in in self.regions.items():
            balancer = self._aws.client("elbv2", stand_in.region).describe_load_balancers(
                LoadBalancerArns=[stand_in.front_door["loadBalancerArn"]])["LoadBalancers"][0]
            planned_name = self._section(role)["endpoint"]  # the balancer's DNS name in the plan
            record = self._planned(RECORD, lambda r: [a.get("name") for a in r["inputs"].get("aliases") or []]
                                   == [planned_name])
            targets[role] = {"DNSName": HOSTS[role], "HostedZoneId": balancer["CanonicalHostedZoneId"],
                             "EvaluateTargetHealth": record["aliases"][0]["evaluateTargetHealth"]}
        seed.failover_alias_records(r53, zone_id=self.zone_id, record_name=self.template["dns"]["recordName"],
                                    targets=targets, health_check_ids=checks)

    def outputs(self) -> dict[str, Any]:
        """The template with what only a deployment knows replaced by the stand-ins' values."""
        doc = copy.deepcopy(self.template)
        doc["dns"]["zoneId"] = self.zone_id
        doc["model"]["manifestSha256"] = self.manifest_sha256
        for role, stand_in in self.regions.items():
            region = doc[FALLBACK] if role == FALLBACK else doc["regions"][role]
            region.update(endpoint=stand_in.endpoint, healthCheckId=stand_in.health_check_id)
            if role != FALLBACK:
                region["kmsKeyArn"] = stand_in.kms_key_arn
            if isinstance(region.get("model"), dict):  # the tier's own pin: the version published for it
                region["model"]["manifestSha256"] = (self.fallback_manifest_sha256 if role == FALLBACK
                                                     else self.manifest_sha256)
            if stand_in.front_door:  # the stand-ins' ARNs, for the keys the outputs have
                region["frontDoor"].update({k: v for k, v in stand_in.front_door.items() if k in region["frontDoor"]})
        return doc

    @property
    def trust_file(self) -> Path:
        """The CA bundle that also trusts the front doors' certificate (written when one has TLS)."""
        return (self.workdir / "ca-bundle.pem").resolve()

    def environment(self) -> dict[str, str]:
        """Environment variables that send every AWS call of `recsys-dr` to the stand-ins (and, for
        front doors with TLS, make their certificate trusted)."""
        env = {"AWS_ENDPOINT_URL": self.endpoint_url, "AWS_ACCESS_KEY_ID": "sandbox",
               "AWS_SECRET_ACCESS_KEY": "sandbox", "AWS_EC2_METADATA_DISABLED": "true"}
        if self.front_door_tls is not None:
            env["SSL_CERT_FILE"] = str(self.trust_file)
        return env

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
