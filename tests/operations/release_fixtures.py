"""A deployed stack with a pinned candidate, in moto and on 127.0.0.x, for the release tests.

Per region: the model bucket with the stable version (v3) and the candidate (v4) published, each
with golden requests and an offline evaluation in its manifest; the EKS cluster; the front door
in moto's ELBv2 (balancer, stable and canary target groups, weighted route rules, the candidate's
header rules) answered on 127.0.0.1 (primary) / 127.0.0.2 (standby) by `FrontDoorStandIn`, which
routes to a TF Serving stand-in per target group; Route 53's zone, health checks and records;
a Kubernetes API stand-in that reports the stable Deployment's rollout.

`VirtualClock` is the release's wall clock: sleeping advances it, and every whole minute it
passes is one minute of client traffic through the primary's front door into CloudWatch.
"""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from recsys_dr.components.serving import balancer
from recsys_dr.model.golden import load_golden
from recsys_dr.model.manifest import MANIFEST_NAME
from recsys_dr.operations.clients import ClientFactory
from recsys_dr.operations.kube import KubeApi
from recsys_dr.operations.release.flow import Clock
from recsys_dr.sandbox import seed
from recsys_dr.sandbox.kube import FakeKube
from recsys_dr.sandbox.release import (
    Behaviour,
    CloudWatchPercentiles,
    FrontDoorStandIn,
    GoldenServing,
    release_version,
)
from tests.operations.ops_fixtures import ACCOUNT, MODEL, PRIMARY_REGION, STANDBY_REGION, Route53Status, client

STABLE, CANDIDATE = 3, 4
# The fallback tier's versions (`models/<model>-fallback/`), in the standby region behind its own front door.
FALLBACK_MODEL, FALLBACK_STABLE, FALLBACK_CANDIDATE, FALLBACK_HOST = f"{MODEL}-fallback", 1, 2, "127.0.0.3"
HOSTS = {"primary": "127.0.0.1", "standby": "127.0.0.2"}
REGIONS = {"primary": PRIMARY_REGION, "standby": STANDBY_REGION}
START = datetime(2026, 3, 2, 10, 0, 0, tzinfo=timezone.utc)
# Bake windows of 3 minutes keep the virtual runs short; the gates are the shipped ones otherwise.
RELEASE = {"canaryPercents": [5, 25, 50, 100], "golden": {"scoreTolerance": 0.001},
           "live": {"bakeSeconds": 180, "checkIntervalSeconds": 60, "minRequests": 10, "maxErrorRateIncrease": 0.005,
                    "maxP99Ratio": 1.25, "p99SlackMs": 10},
           "quality": {"metric": "ndcg@10", "maxRelativeDrop": 0.02}}


class VirtualClock(Clock):
    """Time moves only when the release sleeps; each whole minute passed runs `on_minute(minute start)`."""

    def __init__(self, start: datetime, on_minute: Callable[[datetime], None]):
        self.t, self.on_minute, self.slept = start, on_minute, 0.0

    def now(self) -> datetime:
        return self.t

    def sleep(self, seconds: float) -> None:
        end = self.t + timedelta(seconds=seconds)
        minute = self.t.replace(second=0, microsecond=0)
        while minute + timedelta(minutes=1) <= end:
            if minute >= self.t.replace(second=0, microsecond=0):
                self.on_minute(minute)
            minute += timedelta(minutes=1)
        self.slept += seconds
        self.t = end


class RolloutKube(FakeKube):
    """The stable Deployment as `kubectl rollout status` reads it: its template's manifest digest and
    whether the new ReplicaSet replaced every old pod (`rolled`)."""

    def __init__(self, *, digest: str, **kwargs: Any):
        self.digest, self.rolled = digest, True
        super().__init__(**kwargs)

    def route(self, method: str, path: str, body: dict | None) -> tuple[int, dict]:
        if method == "GET" and path == f"/apis/apps/v1/namespaces/{self.namespace}/deployments/{self.deployment}":
            updated = 2 if self.rolled else 1
            return 200, {"metadata": {"generation": 4}, "spec": {"replicas": 2, "template": {"metadata": {
                "annotations": {"recsys-dr/manifest-sha256": self.digest}}}},
                "status": {"observedGeneration": 4, "replicas": 2 if self.rolled else 3, "updatedReplicas": updated,
                           "availableReplicas": updated}}
        return super().route(method, path, body)


def digest_of(version_dir: Path) -> str:
    return hashlib.sha256((version_dir / MANIFEST_NAME).read_bytes()).hexdigest()


class ReleaseEnvironment:
    """A two-region stack whose candidate v4 is pinned beside v3 (see the module docstring)."""

    def __init__(self, tmp_path: Path, *, standby_mode: str = "warm", candidate_metric: float = 0.110,
                 requests_per_minute: int = 400, fallback: bool = False):
        self.standby_mode, self.requests_per_minute = standby_mode, requests_per_minute
        self.buckets = {"primary": "recsys-dr-prod-models-use1", "standby": "recsys-dr-prod-models-usw2"}
        self.versions = {STABLE: release_version(tmp_path / "built", model=MODEL, version=STABLE, metric=0.110),
                         CANDIDATE: release_version(tmp_path / "built", model=MODEL, version=CANDIDATE, metric=candidate_metric)}
        self.digests = {version: digest_of(path) for version, path in self.versions.items()}
        for role, region in REGIONS.items():
            s3 = client("s3", region)
            seed.model_bucket(s3, None, bucket=self.buckets[role], region=region)
            for path in self.versions.values():
                seed.publish_version(s3, bucket=self.buckets[role], version_dir=path)
        client("s3", PRIMARY_REGION).put_bucket_replication(
            Bucket=self.buckets["primary"], ReplicationConfiguration=seed.replication_configuration(
                standby_bucket=self.buckets["standby"], standby_key_arn=f"arn:aws:kms:{STANDBY_REGION}:{ACCOUNT}:key/k-standby"))
        warm = standby_mode == "warm"
        self.scaling = {"primary": {"minSize": 1, "desiredSize": 1, "maxSize": 4},
                        "standby": {"minSize": int(warm), "desiredSize": int(warm), "maxSize": 4}}
        for role, region in REGIONS.items():
            seed.gpu_cluster(client("eks", region), cluster=f"recsys-{role}", node_group=f"gpu-{role}", scaling=self.scaling[role])
        self._front_doors()
        self._dns(cascade=fallback)
        self.fallback = self._fallback(tmp_path) if fallback else None
        self.kube = {role: RolloutKube(digest=self.digests[STABLE], namespace="recsys", deployment="tf-serving")
                     for role in REGIONS}
        self.clock = VirtualClock(START, self.minute)
        self.cloudwatch = {role: CloudWatchPercentiles(client("cloudwatch", region), region) for role, region in REGIONS.items()}
        for back in range(10, 0, -1):  # the stable traffic before the release: the baseline
            self.minute(START - timedelta(minutes=back))

    def _front_doors(self) -> None:
        self.doors, self.front, self.serving = {}, {}, {}
        for role, region in REGIONS.items():
            elbv2, ec2 = client("elbv2", region), client("ec2", region)
            door = seed.front_door(ec2, elbv2, model=MODEL, net=seed.network(ec2, region=region), load_balancer_name=f"rdr-{role}",
                                   target_group_name=f"rdr-{role}-targets")
            door["candidateHeader"] = balancer.CANDIDATE_HEADER
            seed.candidate_rules(elbv2, listener_arn=door["listenerArn"], canary_target_group_arn=door["canaryTargetGroupArn"],
                                 model=MODEL, version=CANDIDATE)
            for group in (door["targetGroupArn"], door["canaryTargetGroupArn"]):
                elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": f"10.40.0.{i}", "Port": 8501} for i in (5, 6)])
            golden = {v: load_golden((path / "assets.extra" / "golden_requests.json").read_bytes())
                      for v, path in self.versions.items()}
            self.serving[role] = {"stable": GoldenServing(MODEL, STABLE, golden[STABLE]),
                                  "candidate": GoldenServing(MODEL, CANDIDATE, golden[CANDIDATE])}
            backends = {door["targetGroupArn"]: self.serving[role]["stable"],
                        door["canaryTargetGroupArn"]: self.serving[role]["candidate"]}
            if not (role == "standby" and self.standby_mode == "pilot-light"):
                self.front[role] = FrontDoorStandIn(elbv2, door, backends, host=HOSTS[role])
            else:  # a pilot light answers as a balancer without targets
                self.front[role] = FrontDoorStandIn(elbv2, door, {}, host=HOSTS[role])
            self.doors[role] = door

    def _dns(self, *, cascade: bool) -> None:
        r53 = client("route53", "us-east-1")
        self.record = "recs.shop.example.com"
        self.zone_id = seed.hosted_zone(r53, record_name=self.record)
        self.health_check_ids = {role: seed.serving_health_check(r53, role=role, host=HOSTS[role], port=80, model=MODEL,
                                                                 interval=10, threshold=3) for role in REGIONS}
        if cascade:
            self._cascade(r53)
        else:
            seed.failover_records(r53, zone_id=self.zone_id, record_name=self.record, ttl=60, hosts=HOSTS,
                                  health_check_ids=self.health_check_ids)
        self.route53 = Route53Status(r53)
        self.route53.answer = [HOSTS["primary"]]

    def _fallback(self, tmp_path: Path) -> dict:
        """The fallback tier: its two versions in the standby's bucket, its front door (stable and canary
        group, the candidate's header rules) answering on 127.0.0.3 with TF Serving stand-ins."""
        s3, elbv2, ec2 = (client(service, STANDBY_REGION) for service in ("s3", "elbv2", "ec2"))
        versions = {v: release_version(tmp_path / "built", model=FALLBACK_MODEL, version=v, metric=0.080)
                    for v in (FALLBACK_STABLE, FALLBACK_CANDIDATE)}
        for path in versions.values():
            seed.publish_version(s3, bucket=self.buckets["standby"], version_dir=path)
        door = seed.front_door(ec2, elbv2, model=MODEL, net=seed.network(ec2, region=STANDBY_REGION, cidr="10.9.0.0/16"),
                               load_balancer_name="rdr-fallback", target_group_name="rdr-fallback-targets")
        door["candidateHeader"] = balancer.CANDIDATE_HEADER
        seed.candidate_rules(elbv2, listener_arn=door["listenerArn"], canary_target_group_arn=door["canaryTargetGroupArn"],
                             model=MODEL, version=FALLBACK_CANDIDATE)
        for group in (door["targetGroupArn"], door["canaryTargetGroupArn"]):
            elbv2.register_targets(TargetGroupArn=group, Targets=[{"Id": "10.9.0.5", "Port": 8501}])
        golden = {v: load_golden((path / "assets.extra" / "golden_requests.json").read_bytes()) for v, path in versions.items()}
        # Served under the main model's name, as the fallback pods serve it.
        serving = {"stable": GoldenServing(MODEL, FALLBACK_STABLE, golden[FALLBACK_STABLE]),
                   "candidate": GoldenServing(MODEL, FALLBACK_CANDIDATE, golden[FALLBACK_CANDIDATE])}
        front = FrontDoorStandIn(elbv2, door, {door["targetGroupArn"]: serving["stable"],
                                               door["canaryTargetGroupArn"]: serving["candidate"]}, host=FALLBACK_HOST)
        return {"door": door, "serving": serving, "front": front, "digests": {v: digest_of(p) for v, p in versions.items()}}

    def fallback_outputs(self, *, stable: int = FALLBACK_STABLE, candidate: int | None = FALLBACK_CANDIDATE) -> dict:
        fallback, image = self.fallback, "tensorflow/serving:2.21.0"
        door = fallback["door"]
        pin = lambda version: {"version": version, "manifestSha256": fallback["digests"][version], "image": image}  # noqa: E731
        return {
            "region": STANDBY_REGION, "endpoint": fallback["front"].endpoint, "bucket": self.buckets["standby"],
            "healthCheckId": self.health_check_ids["fallback"], "namespace": "recsys-fallback", "deploymentName": "tf-serving",
            "cascadeRecordName": f"standby-cascade.{self.record}", "budgetSeconds": 150,
            "model": {"name": FALLBACK_MODEL, "servedAs": MODEL, "historyLength": 2, **pin(stable),
                      "candidate": None if candidate is None else pin(candidate)},
            "frontDoor": {"scheme": "http", "port": 80, **{k: door[k] for k in (
                "loadBalancerArn", "targetGroupArn", "canaryTargetGroupArn", "ruleArns", "candidateHeader")}},
        }

    def fallback_share(self) -> int | None:
        """The fallback candidate's weight, as ELB has it."""
        return self.fallback["front"].weights().get(self.fallback["door"]["canaryTargetGroupArn"])

    def _cascade(self, r53: Any) -> None:
        """The records with a fallback tier, as components/dns/failover_records.py lays them out (CNAMEs here)."""
        self.health_check_ids["fallback"] = seed.serving_health_check(r53, role="fallback", host=FALLBACK_HOST, port=80,
                                                                      model=MODEL, interval=10, threshold=3)
        cascade = f"standby-cascade.{self.record}"
        records = [(cascade, "standby", "PRIMARY", HOSTS["standby"]), (cascade, "fallback", "SECONDARY", FALLBACK_HOST),
                   (self.record, "primary", "PRIMARY", HOSTS["primary"])]
        changes = [{"Action": "CREATE", "ResourceRecordSet": {
            "Name": name, "Type": "CNAME", "SetIdentifier": role, "Failover": failover, "TTL": 60,
            "ResourceRecords": [{"Value": value}], "HealthCheckId": self.health_check_ids[role]}}
            for name, role, failover, value in records]
        changes.append({"Action": "CREATE", "ResourceRecordSet": {
            "Name": self.record, "Type": "CNAME", "SetIdentifier": "standby", "Failover": "SECONDARY",
            "AliasTarget": {"HostedZoneId": self.zone_id, "DNSName": cascade, "EvaluateTargetHealth": True}}})
        r53.change_resource_record_sets(HostedZoneId=self.zone_id, ChangeBatch={"Changes": changes})

    def behaviour(self, role: str, slot: str) -> Behaviour:
        door = self.doors[role]
        group = door["targetGroupArn"] if slot == "stable" else door["canaryTargetGroupArn"]
        return self.front[role].behaviour.setdefault(group, Behaviour())

    def minute(self, minute: datetime) -> None:
        self.front["primary"].simulate_minute(client("cloudwatch", PRIMARY_REGION), minute, self.requests_per_minute)

    def region_outputs(self, role: str, *, stable: int = STABLE, candidate: int | None = CANDIDATE) -> dict:
        door = self.doors[role]
        return {
            "region": REGIONS[role], "endpoint": self.front[role].endpoint, "bucket": self.buckets[role],
            "kmsKeyArn": f"arn:aws:kms:{REGIONS[role]}:{ACCOUNT}:key/k-{role}", "clusterName": f"recsys-{role}",
            "gpuNodeGroupName": f"gpu-{role}", "healthCheckId": self.health_check_ids[role], "namespace": "recsys",
            "deploymentName": "tf-serving", "gpuScaling": dict(self.scaling[role]),
            "frontDoor": {"scheme": "http", "port": 80, **{k: door[k] for k in (
                "loadBalancerArn", "targetGroupArn", "canaryTargetGroupArn", "ruleArns", "candidateHeader")}},
            "model": {"version": stable, "manifestSha256": self.digests[stable], "image": "tensorflow/serving:2.21.0-gpu",
                      "candidate": None if candidate is None else {
                          "version": candidate, "manifestSha256": self.digests[candidate], "image": "tensorflow/serving:2.21.0-gpu"}},
        }

    def outputs(self, *, stable: int = STABLE, candidate: int | None = CANDIDATE, release: dict | None = None) -> dict:
        return {
            "environment": "prod",
            "model": {"name": MODEL, "version": stable, "manifestSha256": self.digests[stable]},
            "standbyMode": self.standby_mode, "failoverControl": "health-check",
            "failoverBudgetSeconds": 90, "failoverBudgetTargetSeconds": 90,
            "dns": {"zoneId": self.zone_id, "recordName": self.record, "ttl": 60,
                    "healthCheckIntervalSeconds": 10, "failureThreshold": 3},
            "regions": {role: self.region_outputs(role, stable=stable, candidate=candidate) for role in REGIONS},
            "release": copy.deepcopy(release or RELEASE),
            **({"fallback": self.fallback_outputs()} if self.fallback else {}),
        }

    def clients(self) -> ClientFactory:
        factory = ClientFactory(max_attempts=1)
        for role, region in REGIONS.items():
            for service in ("s3", "eks", "elbv2"):
                factory.set_client(service, region, client(service, region))
            factory.set_client("cloudwatch", region, self.cloudwatch[role])
            factory.set_client("kube@" + f"recsys-{role}", region,
                               KubeApi(server=self.kube[role].url, ca_data=None, token=lambda: "k8s-aws-v1.test"))
        factory.set_client("route53", "us-east-1", self.route53)
        return factory

    def shares(self) -> dict[str, int]:
        """The canary's weight per region, as ELB has it."""
        found = {}
        for role in REGIONS:
            weights = self.front[role].weights()
            found[role] = weights.get(self.doors[role]["canaryTargetGroupArn"])
        return found

    def stop(self) -> None:
        if self.fallback:
            for server in (self.fallback["front"], *self.fallback["serving"].values()):
                server.stop()
        for role in REGIONS:
            self.front[role].stop()
            for server in self.serving[role].values():
                server.stop()
            self.kube[role].stop()
