"""Fixtures and fakes for the operations tests.

* `Environment`: a two-region deployment inside moto (`mock_aws`): versioned buckets in
  us-east-1 / us-west-2 with the `models-to-standby` replication rule (RTC), the model
  version published to both, EKS clusters with GPU node groups, a hosted zone with the
  failover CNAMEs and HTTP_STR_MATCH health checks; plus one TF-Serving-like HTTP server
  per region on 127.0.0.1 (random port, own thread). `outputs` is the stack-outputs dict.
* `FakeServing`: `http.server` answering `GET /v1/models/<model>` as TF Serving's REST API.
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
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3

from recsys_dr.model.manifest import MANIFEST_NAME, write_manifest

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


class FakeServing:
    """TF Serving REST look-alike. Mutate `versions` / `http_status` to change its answers."""

    def __init__(self, model: str = MODEL, versions: dict[str, str] | None = None, tls: Any = None):
        """`tls`: an `ssl.SSLContext` to serve HTTPS with (as the load balancer does on 443); default plain HTTP."""
        self.model = model
        self.versions = versions if versions is not None else {str(VERSION): "AVAILABLE"}
        self.http_status = 200
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.requests += 1
                if self.path.rstrip("/") != f"/v1/models/{outer.model}":
                    body = {"error": f"Could not find any versions of model {self.path.split('/')[-1]}"}
                    status = 404
                elif outer.http_status != 200:
                    body, status = {"error": "unavailable"}, outer.http_status
                else:
                    body = {"model_version_status": [
                        {"version": v, "state": s, "status": {"error_code": "OK", "error_message": ""}}
                        for v, s in outer.versions.items()]}
                    status = 200
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def closed_port() -> int:
    """A 127.0.0.1 port nobody listens on (connection refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_model_files(root: Path) -> Path:
    version_dir = root / MODEL / str(VERSION)
    (version_dir / "variables").mkdir(parents=True)
    (version_dir / "assets.extra").mkdir()
    (version_dir / "saved_model.pb").write_bytes(b"saved-model-graph" * 50)
    (version_dir / "variables" / "variables.index").write_bytes(b"index-bytes")
    (version_dir / "variables" / "variables.data-00000-of-00001").write_bytes(b"\x00weights" * 100)
    (version_dir / "assets.extra" / "tf_serving_warmup_requests").write_bytes(b"warmup")
    write_manifest(version_dir, model_name=MODEL, version=VERSION, metadata={"tensorflow_version": "2.21.0"})
    return version_dir


def upload_version(s3: Any, bucket: str, version_dir: Path) -> None:
    base = f"models/{MODEL}/{VERSION}/"
    files = sorted(p for p in version_dir.rglob("*") if p.is_file() and p.name != MANIFEST_NAME)
    for path in files:
        s3.put_object(Bucket=bucket, Key=base + path.relative_to(version_dir).as_posix(), Body=path.read_bytes())
    s3.put_object(Bucket=bucket, Key=base + MANIFEST_NAME, Body=(version_dir / MANIFEST_NAME).read_bytes())


class Environment:
    """A healthy two-region environment in moto + two fake TF Serving endpoints."""

    def __init__(self, tmp_path: Path, *, standby_mode: str = "warm", failover_control: str = "health-check"):
        self.primary_bucket = "recsys-dr-prod-models-use1"
        self.standby_bucket = "recsys-dr-prod-models-usw2"
        self.s3p = client("s3", PRIMARY_REGION)
        self.s3s = client("s3", STANDBY_REGION)
        self.s3p.create_bucket(Bucket=self.primary_bucket)
        self.s3s.create_bucket(Bucket=self.standby_bucket,
                               CreateBucketConfiguration={"LocationConstraint": STANDBY_REGION})
        for s3, bucket in ((self.s3p, self.primary_bucket), (self.s3s, self.standby_bucket)):
            s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self.s3p.put_bucket_replication(Bucket=self.primary_bucket, ReplicationConfiguration=self.replication())
        self.version_dir = make_model_files(tmp_path)
        upload_version(self.s3p, self.primary_bucket, self.version_dir)
        upload_version(self.s3s, self.standby_bucket, self.version_dir)

        self.serving = {"primary": FakeServing(), "standby": FakeServing()}
        # Distinct host names for the two regions, both on 127.0.0.1.
        self.hosts = {"primary": "127.0.0.1", "standby": "localhost"}
        self.endpoints = {role: f"{self.hosts[role]}:{srv.port}" for role, srv in self.serving.items()}

        desired_standby = 1 if standby_mode == "warm" else 0
        self.scaling = {"primary": {"minSize": 1, "desiredSize": 1, "maxSize": 4},
                        "standby": {"minSize": desired_standby, "desiredSize": desired_standby, "maxSize": 4}}
        for role, region in (("primary", PRIMARY_REGION), ("standby", STANDBY_REGION)):
            eks = client("eks", region)
            eks.create_cluster(name=f"recsys-{role}", roleArn=f"arn:aws:iam::{ACCOUNT}:role/eks",
                               resourcesVpcConfig={"subnetIds": ["subnet-1"]})
            eks.create_nodegroup(clusterName=f"recsys-{role}", nodegroupName=f"gpu-{role}",
                                 scalingConfig=self.scaling[role], subnets=["subnet-1"],
                                 nodeRole=f"arn:aws:iam::{ACCOUNT}:role/node")

        r53 = client("route53", "us-east-1")
        zone = r53.create_hosted_zone(Name="shop.example.com", CallerReference="zone")
        self.zone_id = zone["HostedZone"]["Id"].split("/")[-1]
        self.record = "recs.shop.example.com"
        self.health_check_ids = {}
        for role in ("primary", "standby"):
            hc = r53.create_health_check(CallerReference=f"hc-{role}", HealthCheckConfig={
                "Type": "HTTP_STR_MATCH", "FullyQualifiedDomainName": self.hosts[role], "Port": 80,
                "ResourcePath": f"/v1/models/{MODEL}", "SearchString": "AVAILABLE",
                "RequestInterval": 10, "FailureThreshold": 3})
            self.health_check_ids[role] = hc["HealthCheck"]["Id"]
        changes = []
        for role, failover in (("primary", "PRIMARY"), ("standby", "SECONDARY")):
            changes.append({"Action": "CREATE", "ResourceRecordSet": {
                "Name": self.record, "Type": "CNAME", "SetIdentifier": role, "Failover": failover, "TTL": 30,
                "HealthCheckId": self.health_check_ids[role],
                "ResourceRecords": [{"Value": self.hosts[role]}]}})
        r53.change_resource_record_sets(HostedZoneId=self.zone_id, ChangeBatch={"Changes": changes})

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

    def replication(self, *, status: str = "Enabled", rtc: str = "Enabled") -> dict:
        """The rule as components/storage/policies.py `replication_rule` creates it."""
        return {"Role": f"arn:aws:iam::{ACCOUNT}:role/replication", "Rules": [{
            "ID": "models-to-standby", "Priority": 1, "Filter": {"Prefix": "models/"}, "Status": status,
            "DeleteMarkerReplication": {"Status": "Disabled"},
            "SourceSelectionCriteria": {"SseKmsEncryptedObjects": {"Status": "Enabled"}},
            "Destination": {"Bucket": f"arn:aws:s3:::{self.standby_bucket}", "StorageClass": "STANDARD",
                            "EncryptionConfiguration": {"ReplicaKmsKeyID": self.kms_key_arn("standby")},
                            "ReplicationTime": {"Status": rtc, "Time": {"Minutes": 15}},
                            "Metrics": {"Status": "Enabled", "EventThreshold": {"Minutes": 15}}}}]}

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
