"""Create in moto what a deployed stack has in AWS, as the components create it.

Plain functions over boto3 clients, so they work against the sandbox's server and against
moto in-process (`mock_aws`) alike; the operations tests build their environment with them.
Each returns what the stack outputs report about the resource it made (an ARN, an id).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from recsys_dr.sandbox.aws import ACCOUNT

_PASCAL_EXCEPTIONS = {"id": "ID", "replica_kms_key_id": "ReplicaKmsKeyID"}


def api_shape(args: Any) -> Any:
    """pulumi-aws's snake_case arguments as the S3 API spells them (`replication_time` -> `ReplicationTime`)."""
    if isinstance(args, dict):
        return {_PASCAL_EXCEPTIONS.get(k, "".join(p.title() for p in k.split("_"))): api_shape(v)
                for k, v in args.items()}
    if isinstance(args, list):
        return [api_shape(v) for v in args]
    return args


def replication_configuration(*, standby_bucket: str, standby_key_arn: str, status: str = "Enabled",
                              rtc: str = "Enabled") -> dict:
    """The primary bucket's replication configuration, from the rule `components.storage` creates.

    Args:
        standby_bucket: str, the destination bucket.
        standby_key_arn: str, the standby's KMS key (replicas are encrypted with it).
        status / rtc: str, the rule's and Replication Time Control's status (tests break them). Default Enabled.
    """
    from recsys_dr.components.storage import defaults
    from recsys_dr.components.storage.policies import replication_rule

    rule = api_shape(replication_rule(
        destination_bucket_arn=f"arn:aws:s3:::{standby_bucket}", destination_key_arn=standby_key_arn,
        rule_id=defaults.REPLICATION_RULE_ID, prefix=defaults.MODEL_PREFIX,
        minutes=defaults.REPLICATION_TIME_MINUTES, delete_markers=defaults.DELETE_MARKER_REPLICATION))
    rule["Status"] = status
    rule["Destination"]["ReplicationTime"]["Status"] = rtc
    return {"Role": f"arn:aws:iam::{ACCOUNT}:role/replication", "Rules": [rule]}


def model_bucket(s3: Any, kms: Any | None, *, bucket: str, region: str) -> str | None:
    """A versioned bucket in `region` and, with `kms`, its KMS key; returns the key's ARN (or None)."""
    extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=bucket, **extra)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    if kms is None:
        return None
    return kms.create_key(Description=f"{bucket} model artifacts")["KeyMetadata"]["Arn"]


def canned_version(root: Path, *, model: str, version: int) -> Path:
    """A small version directory in the SavedModel layout with its manifest (not a loadable model:
    the sandbox's TF Serving gives canned answers)."""
    from recsys_dr.model.manifest import write_manifest

    version_dir = root / model / str(version)
    (version_dir / "variables").mkdir(parents=True, exist_ok=True)
    (version_dir / "assets.extra").mkdir(exist_ok=True)
    (version_dir / "saved_model.pb").write_bytes(b"saved-model-graph" * 50)
    (version_dir / "variables" / "variables.index").write_bytes(b"index-bytes")
    (version_dir / "variables" / "variables.data-00000-of-00001").write_bytes(b"\x00weights" * 100)
    (version_dir / "assets.extra" / "tf_serving_warmup_requests").write_bytes(b"warmup")
    write_manifest(version_dir, model_name=model, version=version, metadata={"tensorflow_version": "2.21.0"})
    return version_dir


def publish_version(s3: Any, *, bucket: str, version_dir: Path) -> str:
    """`model publish` into `bucket` (manifest last); returns the manifest's sha256."""
    from recsys_dr.model.publish import publish

    return publish(version_dir, bucket, s3_client=s3, show_progress=False).manifest_sha256


def gpu_cluster(eks: Any, *, cluster: str, node_group: str, scaling: dict[str, int]) -> None:
    """An EKS cluster with its GPU managed node group at `scaling` (minSize, desiredSize, maxSize)."""
    eks.create_cluster(name=cluster, roleArn=f"arn:aws:iam::{ACCOUNT}:role/{cluster}-cluster",
                       resourcesVpcConfig={"subnetIds": ["subnet-1"]})
    eks.create_nodegroup(clusterName=cluster, nodegroupName=node_group, scalingConfig=dict(scaling),
                         subnets=["subnet-1"], nodeRole=f"arn:aws:iam::{ACCOUNT}:role/{cluster}-node")


def hosted_zone(r53: Any, *, record_name: str) -> str:
    """A public hosted zone for the record's parent domain; returns its id (without `/hostedzone/`)."""
    domain = record_name.rstrip(".").split(".", 1)[1]
    zone = r53.create_hosted_zone(Name=domain, CallerReference=f"zone-{domain}")
    return zone["HostedZone"]["Id"].split("/")[-1]


def serving_health_check(r53: Any, *, role: str, host: str, port: int, model: str, interval: int,
                         threshold: int) -> str:
    """The HTTP string-match check `components.dns.DnsFailover` creates for one region; returns its id."""
    config = {"Type": "HTTP_STR_MATCH", "FullyQualifiedDomainName": host, "Port": port,
              "ResourcePath": f"/v1/models/{model}", "SearchString": "AVAILABLE",
              "RequestInterval": interval, "FailureThreshold": threshold, "MeasureLatency": True}
    return r53.create_health_check(CallerReference=f"hc-{role}", HealthCheckConfig=config)["HealthCheck"]["Id"]


def failover_records(r53: Any, *, zone_id: str, record_name: str, ttl: int, hosts: dict[str, str],
                     health_check_ids: dict[str, str]) -> None:
    """The PRIMARY / SECONDARY CNAME pair, each steered by its region's health check."""
    changes = [{"Action": "CREATE", "ResourceRecordSet": {
        "Name": record_name, "Type": "CNAME", "SetIdentifier": role, "Failover": failover, "TTL": ttl,
        "HealthCheckId": health_check_ids[role], "ResourceRecords": [{"Value": hosts[role]}]}}
        for role, failover in (("primary", "PRIMARY"), ("standby", "SECONDARY"))]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """`host[:port]` -> (host, port); port 80 when absent."""
    match = re.fullmatch(r"(?P<host>[^:]+)(?::(?P<port>\d+))?", endpoint)
    if not match:
        raise ValueError(f"not host[:port]: {endpoint!r}")
    return match["host"], int(match["port"] or 80)
