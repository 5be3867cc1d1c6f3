"""Create in moto what a deployed stack has in AWS, as the components create it.

Plain functions over boto3 clients, so they work against the sandbox's server and against
moto in-process (`mock_aws`) alike; the operations tests build their environment with them.
Each returns what the stack outputs report about the resource it made (an ARN, an id).
"""

from __future__ import annotations

import ipaddress
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


def arn_name(arn: str) -> str:
    """The name in an ELB or WAF ARN (`.../targetgroup/<name>/<id>`, `.../webacl/<name>/<id>`)."""
    return arn.split("/")[-2]


def network(ec2: Any, *, region: str, cidr: str = "10.0.0.0/16") -> dict[str, Any]:
    """A VPC with two /20 subnets in two Availability Zones (an Application Load Balancer needs
    subnets in at least two: ELB API reference, CreateLoadBalancer `Subnets`); returns
    `{"vpcId", "subnets": [{"id", "cidr"}, ...]}`."""
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    blocks = list(ipaddress.ip_network(cidr).subnets(new_prefix=20))[:2]
    subnets = [{"id": ec2.create_subnet(VpcId=vpc, CidrBlock=str(block), AvailabilityZone=f"{region}{zone}")
                ["Subnet"]["SubnetId"], "cidr": str(block)} for block, zone in zip(blocks, "ab")]
    return {"vpcId": vpc, "subnets": subnets}


_HEALTH_CHECK_API = {"enabled": "HealthCheckEnabled", "protocol": "HealthCheckProtocol", "port": "HealthCheckPort",
                     "path": "HealthCheckPath", "interval": "HealthCheckIntervalSeconds",
                     "timeout": "HealthCheckTimeoutSeconds", "healthy_threshold": "HealthyThresholdCount",
                     "unhealthy_threshold": "UnhealthyThresholdCount"}
_TARGET_GROUP_ATTRIBUTES = {"deregistration_delay": "deregistration_delay.timeout_seconds",
                            "load_balancing_algorithm_type": "load_balancing.algorithm.type"}


def target_group_api(args: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """pulumi-aws `lb.TargetGroup` arguments (`components.serving.balancer.target_group`) as ELBv2's
    `CreateTargetGroup` parameters and `ModifyTargetGroupAttributes` attributes. An argument without
    a mapping here raises KeyError, so a new front-door setting cannot be left out silently."""
    create: dict[str, Any] = {}
    attributes = []
    for key, value in args.items():
        if key == "health_check":
            for check_key, check_value in value.items():
                if check_key == "matcher":
                    create["Matcher"] = {"HttpCode": check_value}
                else:
                    create[_HEALTH_CHECK_API[check_key]] = check_value
        elif key in _TARGET_GROUP_ATTRIBUTES:
            attributes.append({"Key": _TARGET_GROUP_ATTRIBUTES[key], "Value": str(value)})
        else:
            create[{"target_type": "TargetType", "protocol": "Protocol", "port": "Port"}[key]] = value
    return create, attributes


def _listener_api(args: dict[str, Any]) -> dict[str, Any]:
    """`components.serving.balancer.listener` as ELBv2's `CreateListener` parameters."""
    (action,) = args["default_actions"]
    fixed = action["fixed_response"]
    api = {"Protocol": args["protocol"], "Port": args["port"], "DefaultActions": [{
        "Type": action["type"], "FixedResponseConfig": {"ContentType": fixed["content_type"],
                                                        "MessageBody": fixed["message_body"],
                                                        "StatusCode": fixed["status_code"]}}]}
    if args.get("certificate_arn"):
        api.update(Certificates=[{"CertificateArn": args["certificate_arn"]}], SslPolicy=args["ssl_policy"])
    return api


def rule_conditions(conditions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`balancer.listener_rules` / `candidate_rules` conditions (`path_pattern`, `http_request_method`,
    `http_header`) in ELBv2's shape."""
    fields = {"path_pattern": ("path-pattern", "PathPatternConfig"),
              "http_request_method": ("http-request-method", "HttpRequestMethodConfig"),
              "http_header": ("http-header", "HttpHeaderConfig")}
    api = []
    for condition in conditions:
        (key, config), = condition.items()
        field_name, config_name = fields[key]
        values = {"Values": list(config["values"])}
        if key == "http_header":
            values["HttpHeaderName"] = config["http_header_name"]
        api.append({"Field": field_name, config_name: values})
    return api


def forward_api(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`balancer.weighted_forward` (pulumi-aws shape) as ELBv2's `Actions`."""
    return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": group["arn"], "Weight": group["weight"]} for group in action["forward"]["target_groups"]]}}
        for action in actions]


def front_door(ec2: Any, elbv2: Any, *, model: str, net: dict[str, Any], load_balancer_name: str,
               target_group_name: str, canary_target_group_name: str | None = None,
               tls_certificate_arn: str | None = None) -> dict[str, Any]:
    """The balancer, target groups, listener and forwarding rules `components.serving.FrontDoor`
    creates, from the same plain helpers (`components.serving.balancer`); returns their ARNs as
    `{"loadBalancerArn", "targetGroupArn", "canaryTargetGroupArn", "ruleArns", "listenerArn"}`.

    Args:
        model: str, the model name (the forwarded paths and the health check path).
        net: dict, `network()`'s answer.
        load_balancer_name / target_group_name: str, names as the stack's ARNs carry them.
        canary_target_group_name: str | None, the canary group's. Default: `target_group_name` + "-c".
        tls_certificate_arn: str | None, HTTPS on 443 with it; None listens on HTTP 80. Default None.
    """
    from recsys_dr.components.serving import balancer

    group = ec2.create_security_group(GroupName=f"{load_balancer_name}-alb", VpcId=net["vpcId"],
                                      Description=f"{model} serving balancer")["GroupId"]
    lb_arn = elbv2.create_load_balancer(
        Name=load_balancer_name, Type="application", Scheme="internet-facing", SecurityGroups=[group],
        Subnets=[subnet["id"] for subnet in net["subnets"]])["LoadBalancers"][0]["LoadBalancerArn"]
    elbv2.modify_load_balancer_attributes(LoadBalancerArn=lb_arn, Attributes=[
        {"Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true"}])
    create, attributes = target_group_api(balancer.target_group(model))
    groups = []
    for name in (target_group_name, canary_target_group_name or f"{target_group_name}-c"):
        groups.append(elbv2.create_target_group(Name=name, VpcId=net["vpcId"], **create)["TargetGroups"][0]["TargetGroupArn"])
        elbv2.modify_target_group_attributes(TargetGroupArn=groups[-1], Attributes=attributes)
    listener = elbv2.create_listener(LoadBalancerArn=lb_arn, **_listener_api(
        balancer.listener(tls_certificate_arn=tls_certificate_arn)))["Listeners"][0]["ListenerArn"]
    rules = [elbv2.create_rule(ListenerArn=listener, Priority=rule["priority"], Conditions=rule_conditions(rule["conditions"]),
                               Actions=forward_api(balancer.weighted_forward(*groups)))["Rules"][0]["RuleArn"]
             for rule in balancer.listener_rules(model)]
    return {"loadBalancerArn": lb_arn, "targetGroupArn": groups[0], "canaryTargetGroupArn": groups[1], "ruleArns": rules,
            "listenerArn": listener}


def candidate_rules(elbv2: Any, *, listener_arn: str, canary_target_group_arn: str, model: str, version: int) -> list[str]:
    """The header rules a pinned candidate adds (`balancer.candidate_rules`: to the canary group only)."""
    from recsys_dr.components.serving import balancer

    return [elbv2.create_rule(ListenerArn=listener_arn, Priority=rule["priority"], Conditions=rule_conditions(rule["conditions"]),
                              Actions=[{"Type": "forward", "TargetGroupArn": canary_target_group_arn}])["Rules"][0]["RuleArn"]
            for rule in balancer.candidate_rules(model, version)]


def web_acl(wafv2: Any, *, name: str, rules: list[dict[str, Any]], resource_arn: str) -> str:
    """The regional web ACL `FrontDoor` creates (allow by default, then `rules`, as the plan renders
    them), associated with the balancer `resource_arn`; returns its ARN."""
    arn = wafv2.create_web_acl(
        Name=name, Scope="REGIONAL", DefaultAction={"Allow": {}}, Rules=rules,
        VisibilityConfig={"SampledRequestsEnabled": True, "CloudWatchMetricsEnabled": True, "MetricName": name},
    )["Summary"]["ARN"]
    wafv2.associate_web_acl(WebACLArn=arn, ResourceArn=resource_arn)
    return arn


def hosted_zone(r53: Any, *, record_name: str) -> str:
    """A public hosted zone for the record's parent domain; returns its id (without `/hostedzone/`)."""
    domain = record_name.rstrip(".").split(".", 1)[1]
    zone = r53.create_hosted_zone(Name=domain, CallerReference=f"zone-{domain}")
    return zone["HostedZone"]["Id"].split("/")[-1]


def serving_health_check(r53: Any, *, role: str, host: str, port: int, model: str, interval: int,
                         threshold: int, https: bool = False) -> str:
    """The string-match check `components.dns.DnsFailover` creates for one region (HTTPS with SNI
    for a front door with a certificate); returns its id."""
    config = {"Type": "HTTPS_STR_MATCH" if https else "HTTP_STR_MATCH", "FullyQualifiedDomainName": host,
              "Port": port, "ResourcePath": f"/v1/models/{model}", "SearchString": "AVAILABLE",
              "RequestInterval": interval, "FailureThreshold": threshold, "MeasureLatency": True,
              **({"EnableSNI": True} if https else {})}
    return r53.create_health_check(CallerReference=f"hc-{role}", HealthCheckConfig=config)["HealthCheck"]["Id"]


def failover_records(r53: Any, *, zone_id: str, record_name: str, ttl: int, hosts: dict[str, str],
                     health_check_ids: dict[str, str]) -> None:
    """The PRIMARY / SECONDARY CNAME pair, each steered by its region's health check."""
    changes = [{"Action": "CREATE", "ResourceRecordSet": {
        "Name": record_name, "Type": "CNAME", "SetIdentifier": role, "Failover": failover, "TTL": ttl,
        "HealthCheckId": health_check_ids[role], "ResourceRecords": [{"Value": hosts[role]}]}}
        for role, failover in (("primary", "PRIMARY"), ("standby", "SECONDARY"))]
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})


def failover_alias_records(r53: Any, *, zone_id: str, record_name: str, targets: dict[str, dict[str, Any]],
                           health_check_ids: dict[str, str]) -> None:
    """The failover aliases (type A) `components.dns.DnsFailover` creates for front doors, in its
    `record_layout`: the PRIMARY / SECONDARY pair, or with a `fallback` target the cascade (the
    client-facing SECONDARY an alias, evaluating target health, of the nested standby/fallback pair).

    Args:
        targets: tier -> the record's AliasTarget (`DNSName`, `HostedZoneId`, `EvaluateTargetHealth`).
        health_check_ids: tier -> the health check steering that tier's record.
    """
    from recsys_dr.components.dns.failover_records import CASCADE, cascade_record_name, record_layout

    cascade = {"DNSName": cascade_record_name(record_name), "HostedZoneId": zone_id, "EvaluateTargetHealth": True}
    changes = []
    for spec in record_layout(record_name, fallback="fallback" in targets):
        record = {"Name": spec.name, "Type": "A", "SetIdentifier": spec.set_identifier, "Failover": spec.failover}
        if spec.target == CASCADE:
            record["AliasTarget"] = cascade
        else:
            record.update(HealthCheckId=health_check_ids[spec.target], AliasTarget=dict(targets[spec.target]))
        changes.append({"Action": "CREATE", "ResourceRecordSet": record})
    r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})


def split_endpoint(endpoint: str) -> tuple[str, int]:
    """`host[:port]` -> (host, port); port 80 when absent."""
    match = re.fullmatch(r"(?P<host>[^:]+)(?::(?P<port>\d+))?", endpoint)
    if not match:
        raise ValueError(f"not host[:port]: {endpoint!r}")
    return match["host"], int(match["port"] or 80)
