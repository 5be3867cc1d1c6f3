"""Fixtures and fakes for the operations tests.

* `Environment`: a two-region deployment inside moto (`mock_aws`), built with the sandbox's
  seeding (`recsys_dr.sandbox.seed`): versioned buckets in us-east-1 / us-west-2 with the
  `models-to-standby` replication rule (RTC), the model version published to both, EKS
  clusters with GPU node groups, a hosted zone with the failover CNAMEs and HTTP_STR_MATCH
  health checks; plus the sandbox's TF Serving stand-in per region on 127.0.0.1 (random port,
  own thread). `outputs` is the stack-outputs dict.
* `S3ReplicationEcho`: wraps a moto S3 client; moto's GetBucketReplication answers every rule
  with `Filter: {Prefix: ""}` and drops `SourceSelectionCriteria`, so the configuration last
  put is answered verbatim (after moto has answered, so its errors still surface).
* `Route53Status`: wraps the moto Route 53 client; moto always reports health checks as
  healthy and lacks `test_dns_answer`, so those two calls are answered here.
* `FakeArcCluster`: an in-memory ARC data plane (routing control states + the
  "at least one On" safety rule) that records the state after every call.
"""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path
from typing import Any

import boto3

from recsys_dr.model.manifest import MANIFEST_NAME
from recsys_dr.operations.checks import CheckResult
from recsys_dr.operations.status import StatusReport
from recsys_dr.sandbox import seed
from recsys_dr.sandbox.serving import FakeServing

MODEL = "recommender"
VERSION = 3
PRIMARY_REGION = "us-east-1"
STANDBY_REGION = "us-west-2"
ACCOUNT = "123456789012"
RC_PRIMARY = "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/p"
RC_STANDBY = "arn:aws:route53-recovery-control::123456789012:controlpanel/abc/routingcontrol/s"


_CLIENTS: dict[tuple[str, str], Any] = {}


def client(service: str, region: str) -> Any:
    """A boto3 client reused across tests (creating one costs ~30 ms; moto intercepts it anyway).

    S3 clients come wrapped in `S3ReplicationEcho` (moto gap, see the module docstring).
    """
    if (service, region) not in _CLIENTS:
        raw = boto3.client(service, region_name=region)
        _CLIENTS[(service, region)] = S3ReplicationEcho(raw) if service == "s3" else raw
    return _CLIENTS[(service, region)]


class S3ReplicationEcho:
    """A moto S3 client whose `get_bucket_replication` returns the configuration as it was put.

    moto 5 stores the whole configuration but answers each rule with `Filter: {Prefix: ""}` and
    without `SourceSelectionCriteria`, which would hide exactly what `replication.rule` checks.
    """

    _configs: dict[str, dict] = {}  # bucket -> last configuration put (shared by all regions' clients)

    def __init__(self, inner: Any):
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def put_bucket_replication(self, *, Bucket: str, ReplicationConfiguration: dict, **kwargs) -> dict:  # noqa: N803
        answer = self._inner.put_bucket_replication(Bucket=Bucket, ReplicationConfiguration=ReplicationConfiguration,
                                                    **kwargs)
        self._configs[Bucket] = json.loads(json.dumps(ReplicationConfiguration))
        return answer

    def get_bucket_replication(self, *, Bucket: str, **kwargs) -> dict:  # noqa: N803
        answer = self._inner.get_bucket_replication(Bucket=Bucket, **kwargs)  # NotFound etc. from moto
        if Bucket in self._configs:
            answer = {**answer, "ReplicationConfiguration": json.loads(json.dumps(self._configs[Bucket]))}
        return answer

    def delete_bucket_replication(self, *, Bucket: str, **kwargs) -> dict:  # noqa: N803
        self._configs.pop(Bucket, None)
        return self._inner.delete_bucket_replication(Bucket=Bucket, **kwargs)


def client_factory() -> Any:
    """A fresh `ClientFactory` (own cache, so injected fakes never leak) pre-filled with shared clients."""
    from recsys_dr.operations.clients import ClientFactory

    factory = ClientFactory(max_attempts=1)
    for service, region in (("s3", PRIMARY_REGION), ("s3", STANDBY_REGION), ("eks", PRIMARY_REGION),
                            ("eks", STANDBY_REGION), ("cloudwatch", PRIMARY_REGION), ("route53", "us-east-1")):
        factory.set_client(service, region, client(service, region))
    return factory


def closed_port() -> int:
    """A 127.0.0.1 port nobody listens on (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


FALLBACK_VERSION = 5
FALLBACK_HOST = "127.1"  # 127.0.0.1 under another name, so DNS answers tell the tiers apart


class Environment:
    """A healthy two-region environment in moto + two TF Serving stand-ins; with `fallback`, the CPU
    fallback tier too (its version in the standby bucket, its stand-in, health check and the DNS cascade)."""

    def __init__(self, tmp_path: Path, *, standby_mode: str = "warm", failover_control: str = "health-check",
                 fallback: bool = False):
        self.primary_bucket = "recsys-dr-prod-models-use1"
        self.standby_bucket = "recsys-dr-prod-models-usw2"
        self.s3p = client("s3", PRIMARY_REGION)
        self.s3s = client("s3", STANDBY_REGION)
        seed.model_bucket(self.s3p, None, bucket=self.primary_bucket, region=PRIMARY_REGION)
        seed.model_bucket(self.s3s, None, bucket=self.standby_bucket, region=STANDBY_REGION)
        self.s3p.put_bucket_replication(Bucket=self.primary_bucket, ReplicationConfiguration=self.replication())
        self.version_dir = seed.canned_version(tmp_path, model=MODEL, version=VERSION)
        seed.publish_version(self.s3p, bucket=self.primary_bucket, version_dir=self.version_dir)
        seed.publish_version(self.s3s, bucket=self.standby_bucket, version_dir=self.version_dir)

        self.serving = {role: FakeServing(MODEL, {str(VERSION): "AVAILABLE"}) for role in ("primary", "standby")}
        # Distinct host names for the two regions, both on 127.0.0.1.
        self.hosts = {"primary": "127.0.0.1", "standby": "localhost"}
        self.endpoints = {role: f"{self.hosts[role]}:{srv.port}" for role, srv in self.serving.items()}

        desired_standby = 1 if standby_mode == "warm" else 0
        self.scaling = {"primary": {"minSize": 1, "desiredSize": 1, "maxSize": 4},
                        "standby": {"minSize": desired_standby, "desiredSize": desired_standby, "maxSize": 4}}
        for role, region in (("primary", PRIMARY_REGION), ("standby", STANDBY_REGION)):
            seed.gpu_cluster(client("eks", region), cluster=f"recsys-{role}", node_group=f"gpu-{role}",
                             scaling=self.scaling[role])

        r53 = client("route53", "us-east-1")
        self.record = "recs.shop.example.com"
        self.zone_id = seed.hosted_zone(r53, record_name=self.record)
        # Port 80 as the components configure it (the stand-ins' own ports are not probed here).
        self.health_check_ids = {
            role: seed.serving_health_check(r53, role=role, host=self.hosts[role], port=80, model=MODEL, interval=10,
                                            threshold=3)
            for role in ("primary", "standby")}
        if fallback:
            self._fallback(tmp_path, r53)
        else:
            seed.failover_records(r53, zone_id=self.zone_id, record_name=self.record, ttl=30, hosts=self.hosts,
                                  health_check_ids=self.health_check_ids)

        self.outputs = {
            "environment": "prod",
            "model": {"name": MODEL, "version": VERSION,
                      "manifestSha256": hashlib.sha256((self.version_dir / MANIFEST_NAME).read_bytes()).hexdigest()},
            "standbyMode": standby_mode,
            "failoverControl": failover_control,
            "failoverBudgetSeconds": 60,
            "failoverBudgetTargetSeconds": 60,
            "dns": {"zoneId": self.zone_id, "recordName": self.record, "ttl": 30,
                    "healthCheckIntervalSeconds": 10, "failureThreshold": 3},
            "regions": {role: self.region_outputs(role) for role in ("primary", "standby")},
        }
        if fallback:
            self.outputs["fallback"] = self.fallback_outputs()
        if failover_control == "arc":
            self.outputs["arc"] = {
                "clusterArn": "arn:aws:route53-recovery-control::123456789012:cluster/c1",
                "clusterEndpoints": [
                    {"region": "us-east-1", "endpoint": "https://aaa.route53-recovery-cluster.us-east-1.amazonaws.com/v1"},
                    {"region": "us-west-2", "endpoint": "https://bbb.route53-recovery-cluster.us-west-2.amazonaws.com/v1"},
                ],
                "controlPanelArn": "arn:aws:route53-recovery-control::123456789012:controlpanel/abc",
                "routingControls": {"primary": RC_PRIMARY, "standby": RC_STANDBY},
            }

    def _fallback(self, tmp_path: Path, r53: Any) -> None:
        """The fallback tier: `models/recommender-fallback/5/` in the standby bucket, served as `recommender`,
        and the cascade records as components/dns/failover_records.py lays them out (CNAMEs here)."""
        self.fallback_dir = seed.canned_version(tmp_path / "fallback", model=f"{MODEL}-fallback", version=FALLBACK_VERSION)
        self.fallback_digest = seed.publish_version(self.s3s, bucket=self.standby_bucket, version_dir=self.fallback_dir)
        self.serving["fallback"] = FakeServing(MODEL, {str(FALLBACK_VERSION): "AVAILABLE"})
        self.hosts["fallback"] = FALLBACK_HOST
        self.endpoints["fallback"] = f"{FALLBACK_HOST}:{self.serving['fallback'].port}"
        self.health_check_ids["fallback"] = seed.serving_health_check(
            r53, role="fallback", host=FALLBACK_HOST, port=80, model=MODEL, interval=10, threshold=3)
        self.cascade = f"standby-cascade.{self.record}"
        records = [(self.cascade, "standby", "PRIMARY", self.hosts["standby"], self.health_check_ids["standby"]),
                   (self.cascade, "fallback", "SECONDARY", FALLBACK_HOST, self.health_check_ids["fallback"]),
                   (self.record, "primary", "PRIMARY", self.hosts["primary"], self.health_check_ids["primary"])]
        changes = [{"Action": "CREATE", "ResourceRecordSet": {
            "Name": name, "Type": "CNAME", "SetIdentifier": identifier, "Failover": failover, "TTL": 30,
            "ResourceRecords": [{"Value": value}], "HealthCheckId": check}}
            for name, identifier, failover, value, check in records]
        # The client-facing SECONDARY: an alias, evaluating target health, of the nested pair (same zone, same type).
        changes.append({"Action": "CREATE", "ResourceRecordSet": {
            "Name": self.record, "Type": "CNAME", "SetIdentifier": "standby", "Failover": "SECONDARY",
            "AliasTarget": {"HostedZoneId": self.zone_id, "DNSName": self.cascade, "EvaluateTargetHealth": True}}})
        r53.change_resource_record_sets(HostedZoneId=self.zone_id, ChangeBatch={"Changes": changes})

    def fallback_outputs(self) -> dict:
        return {"region": STANDBY_REGION, "endpoint": self.endpoints["fallback"], "bucket": self.standby_bucket,
                "healthCheckId": self.health_check_ids["fallback"], "namespace": "recsys-fallback",
                "deploymentName": "tf-serving", "cascadeRecordName": self.cascade, "budgetSeconds": 90,
                "model": {"name": f"{MODEL}-fallback", "servedAs": MODEL, "version": FALLBACK_VERSION,
                          "manifestSha256": self.fallback_digest, "historyLength": 20}}

    def answer(self, route53: Any):
        """Route 53's answer for the record now, by its rules (sandbox.route53.resolve) over the stored records:
        a check is healthy while its endpoint passes (`route53.unhealthy`), flipped while inverted."""
        from recsys_dr.sandbox.route53 import resolve

        def healthy(check_id: str) -> bool:
            inverted = route53.get_health_check(HealthCheckId=check_id)["HealthCheck"]["HealthCheckConfig"].get("Inverted")
            return (check_id not in route53.unhealthy) != bool(inverted)

        sets = route53.list_resource_record_sets(HostedZoneId=self.zone_id)["ResourceRecordSets"]
        return lambda: resolve(sets, self.record, "CNAME", healthy=healthy)

    def replication(self, *, status: str = "Enabled", rtc: str = "Enabled") -> dict:
        """The rule as components/storage/policies.py `replication_rule` creates it."""
        return seed.replication_configuration(standby_bucket=self.standby_bucket,
                                              standby_key_arn=self.kms_key_arn("standby"), status=status, rtc=rtc)

    @staticmethod
    def kms_key_arn(role: str) -> str:
        return f"arn:aws:kms:{PRIMARY_REGION if role == 'primary' else STANDBY_REGION}:{ACCOUNT}:key/k-{role}"

    def region_outputs(self, role: str) -> dict:
        return {
            "region": PRIMARY_REGION if role == "primary" else STANDBY_REGION,
            "endpoint": self.endpoints[role],
            "bucket": self.primary_bucket if role == "primary" else self.standby_bucket,
            "kmsKeyArn": self.kms_key_arn(role),
            "clusterName": f"recsys-{role}",
            "gpuNodeGroupName": f"gpu-{role}",
            "healthCheckId": self.health_check_ids[role],
            "namespace": "recsys",
            "deploymentName": "tf-serving",
            "gpuScaling": dict(self.scaling[role]),
        }

    def stop(self) -> None:
        for server in self.serving.values():
            server.stop()


class Route53Status:
    """Moto Route 53 client with the two calls moto cannot answer usefully.

    moto reports every health check as "Success" and answers `test_dns_answer` with 404, so
    `get_health_check_status` returns `observations[id]` (healthy by default) and
    `test_dns_answer` returns `answer` (a list of record values, or an exception to raise).
    """

    def __init__(self, inner: Any):
        self._inner = inner
        self.unhealthy: set[str] = set()
        self.answer: Any = []
        self.dns_queries = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def get_health_check_status(self, HealthCheckId: str) -> dict:  # noqa: N803
        self._inner.get_health_check(HealthCheckId=HealthCheckId)  # NoSuchHealthCheck like AWS
        if HealthCheckId in self.unhealthy:
            status = "Failure: HTTP Status Code 503, Service Unavailable. Resolved IP: 10.0.0.7."
        else:
            status = "Success: HTTP Status Code 200, OK. Resolved IP: 10.0.0.7."
        return {"HealthCheckObservations": [
            {"Region": r, "IPAddress": "15.177.0.1", "StatusReport": {"Status": status}}
            for r in ("us-east-1", "us-west-1", "eu-west-1", "ap-southeast-1")]}

    def test_dns_answer(self, **kwargs) -> dict:
        self.dns_queries += 1
        answer = self.answer() if callable(self.answer) else self.answer
        if isinstance(answer, BaseException):
            raise answer
        return {"Nameserver": "ns-1.awsdns-01.org", "RecordName": kwargs["RecordName"],
                "RecordType": kwargs["RecordType"], "RecordData": list(answer),
                "ResponseCode": "NOERROR", "Protocol": "UDP"}


class FakeArcCluster:
    """In-memory ARC data plane shared by all "endpoints"; enforces "at least one On".

    `history` holds the states after every successful update; `calls` the operations.
    `fail` maps an operation name to an exception raised (once per listed item).
    """

    def __init__(self, states: dict[str, str] | None = None, *, batch_supported: bool = True):
        self.states = states or {RC_PRIMARY: "On", RC_STANDBY: "Off"}
        self.history: list[dict[str, str]] = [dict(self.states)]
        self.calls: list[str] = []
        self.fail: dict[str, list[BaseException]] = {}
        self.batch_supported = batch_supported

    def _maybe_fail(self, op: str) -> None:
        self.calls.append(op)
        queue = self.fail.get(op)
        if queue:
            raise queue.pop(0)

    def _apply(self, changes: dict[str, str]) -> None:
        from botocore.exceptions import ClientError

        new = {**self.states, **changes}
        if not any(v == "On" for v in new.values()):
            raise ClientError({"Error": {"Code": "ConflictException", "Message": "safety rule: at least one On"},
                               "ResponseMetadata": {"HTTPStatusCode": 409}}, "UpdateRoutingControlStates")
        self.states = new
        self.history.append(dict(new))

    def get_routing_control_state(self, RoutingControlArn: str) -> dict:  # noqa: N803
        self._maybe_fail("get_routing_control_state")
        return {"RoutingControlArn": RoutingControlArn, "RoutingControlState": self.states[RoutingControlArn]}

    def update_routing_control_states(self, UpdateRoutingControlStateEntries: list) -> dict:  # noqa: N803
        from botocore.exceptions import ClientError

        self._maybe_fail("update_routing_control_states")
        if not self.batch_supported:
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "batch not supported"},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "UpdateRoutingControlStates")
        self._apply({e["RoutingControlArn"]: e["RoutingControlState"] for e in UpdateRoutingControlStateEntries})
        return {}

    def update_routing_control_state(self, RoutingControlArn: str, RoutingControlState: str) -> dict:  # noqa: N803
        self._maybe_fail("update_routing_control_state")
        self._apply({RoutingControlArn: RoutingControlState})
        return {}

    def role_states(self) -> dict[str, str]:
        return {"primary": self.states[RC_PRIMARY], "standby": self.states[RC_STANDBY]}


PRIMARY_HOST, STANDBY_HOST = "primary-nlb.elb.us-east-1.amazonaws.com", "standby-nlb.elb.us-west-2.amazonaws.com"


def outputs_doc(control: str = "arc") -> dict:
    """Static, valid stack outputs (no AWS behind them) for tests that fake every call."""
    def region(role, name, host):
        return {"region": name, "endpoint": host, "bucket": f"b-{role}", "kmsKeyArn": "arn:aws:kms:x",
                "clusterName": f"c-{role}", "gpuNodeGroupName": f"gpu-{role}", "healthCheckId": f"hc-{role}",
                "namespace": "recsys", "deploymentName": "tf-serving",
                "gpuScaling": {"minSize": 1, "desiredSize": 1, "maxSize": 4}}

    doc = {"environment": "prod", "model": {"name": "recommender", "version": 3, "manifestSha256": "0" * 64},
           "standbyMode": "warm",
           "failoverControl": control, "failoverBudgetSeconds": 60, "failoverBudgetTargetSeconds": 60,
           "dns": {"zoneId": "Z1", "recordName": "recs.shop.example.com", "ttl": 30,
                   "healthCheckIntervalSeconds": 10, "failureThreshold": 3},
           "regions": {"primary": region("primary", "us-east-1", PRIMARY_HOST),
                       "standby": region("standby", "us-west-2", STANDBY_HOST)}}
    if control == "arc":
        doc["arc"] = {"clusterArn": "arn:c", "controlPanelArn": "arn:p",
                      "clusterEndpoints": [{"region": "us-east-1", "endpoint": "https://a.example/v1"},
                                           {"region": "us-west-2", "endpoint": "https://b.example/v1"}],
                      "routingControls": {"primary": RC_PRIMARY, "standby": RC_STANDBY}}
    return doc


def status_report(target: str, failing: list[tuple[str, str, str]] | tuple = ()) -> StatusReport:
    """A status report of `target` whose results are the blocking failures `(check name, role, detail)`."""
    results = [CheckResult(name=name, ok=False, detail=detail, role=role) for name, role, detail in failing]
    return StatusReport(environment="test", target=target, results=results, generated_at="2026-12-07T00:00:00+00:00")
