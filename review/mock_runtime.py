"""Run a Pulumi program under Pulumi's mock runtime and record what it registers.

The mocks answer like AWS and Kubernetes would (ARNs, ids, endpoints, load-balancer
hostnames), deterministically: every value derives from the resource's type and name,
so two renders of the same commit are identical. Nothing here talks to a cloud.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.settings import get_root_resource
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

ACCOUNT_ID = "123456789012"
# `aws.get_ip_ranges` answers, from ip-ranges.json: the Route 53 health checkers' IPv4 blocks
# by region ("global" is their shared block), and a sample of S3's blocks per region.
IP_RANGES = {
    "route53_healthchecks": {
        "global": ["15.177.0.0/18"],
        "ap-northeast-1": ["54.248.220.0/26", "54.250.253.192/26"],
        "ap-southeast-1": ["54.251.31.128/26", "54.255.254.192/26"],
        "ap-southeast-2": ["54.252.79.128/26", "54.252.254.192/26"],
        "eu-west-1": ["176.34.159.192/26", "54.228.16.0/26"],
        "sa-east-1": ["177.71.207.128/26", "54.232.40.64/26"],
        "us-east-1": ["107.23.255.0/26", "54.243.31.192/26"],
        "us-west-1": ["54.183.255.128/26", "54.241.32.64/26"],
        "us-west-2": ["54.244.52.192/26", "54.245.168.0/26"],
    },
    "s3": {
        "us-east-1": ["3.5.0.0/19", "52.216.0.0/15", "54.231.0.0/16"],
        "us-west-2": ["3.5.76.0/22", "52.92.128.0/17", "52.218.128.0/17"],
    },
}


# Elastic Load Balancing's hosted zone ids for Application Load Balancers (AWS General Reference,
# "Elastic Load Balancing endpoints and quotas"), for the regions the shipped stacks use.
ELB_ZONE_IDS = {"us-east-1": "Z35SXDOTRQ7X7K", "us-east-2": "Z3AADJGX6KTTL2", "us-west-2": "Z1H1FL5HABSF5"}


def _digest(*parts: str, length: int = 12) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


@dataclass
class RegisteredResource:
    """One `RegisterResource` call as the engine would have seen it."""

    urn: str
    type: str
    name: str
    parent: str
    provider: str
    custom: bool
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    # The id the provider would return (a stand-in, like the computed outputs).
    id: str = ""
    # Which resources each input property depends on, as the engine records them
    # (`{"bucket": ["urn:...Bucket::models"]}`); policies use it to relate resources.
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)
    dependencies: list[str] = field(default_factory=list)
    # Resource options the engine acts on when it diffs (`ignoreChanges`, `deleteBeforeReplace`,
    # `replaceOnChanges`, `protect`, `retainOnDelete`), as sent in the request; only those set.
    options: dict[str, Any] = field(default_factory=dict)


def _options(request: Any) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if request.ignoreChanges:
        options["ignoreChanges"] = sorted(request.ignoreChanges)
    if request.replaceOnChanges:
        options["replaceOnChanges"] = sorted(request.replaceOnChanges)
    if request.deleteBeforeReplaceDefined and request.deleteBeforeReplace:
        options["deleteBeforeReplace"] = True
    if request.protect:
        options["protect"] = True
    if request.HasField("retainOnDelete") and request.retainOnDelete:
        options["retainOnDelete"] = True
    return options


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """A mock monitor that also keeps parent and provider of every registration."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[RegisteredResource] = []

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                RegisteredResource(
                    urn=response.urn,
                    type=request.type,
                    name=request.name,
                    parent=request.parent,
                    provider=request.provider,
                    custom=bool(request.custom),
                    inputs=rpc.deserialize_properties(request.object),
                    outputs=self.resources[response.urn].state,
                    id=self.resources[response.urn].id or "",
                    property_dependencies={
                        key: sorted(deps.urns) for key, deps in sorted(request.propertyDependencies.items())
                    },
                    dependencies=sorted(request.dependencies),
                    options=_options(request),
                )
            )
        return response


class CloudMocks(pulumi.runtime.Mocks):
    """Deterministic stand-ins for what AWS and Kubernetes return on create."""

    def __init__(self) -> None:
        super().__init__()
        # Region switch plans by ARN: AWS creates one Route 53 health check per plan Region,
        # which the program reads back with `getRoute53HealthChecks`.
        self.region_switch_plans: dict[str, list[str]] = {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        outputs = dict(args.inputs)
        region = outputs.get("region") or ""
        token = _digest(args.typ, args.name)
        resource_id = f"{args.name}-{token[:8]}"
        typ = args.typ

        if typ.startswith("aws:"):
            service = typ.split(":")[1].split("/")[0]
            outputs.setdefault(
                "arn", f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{typ.split(':')[-1].lower()}/{resource_id}"
            )
            outputs.setdefault("tagsAll", outputs.get("tags", {}))
        if typ == "aws:arcregionswitch/plan:Plan":
            # botocore's PlanArn pattern: arn:<partition>:arc-region-switch::<account>:plan/<name>:<6 chars>
            name = outputs.get("name") or args.name
            outputs["arn"] = f"arn:aws:arc-region-switch::{ACCOUNT_ID}:plan/{name}:{token[:6]}"
            self.region_switch_plans[outputs["arn"]] = list(outputs.get("regions") or [])
        # Each family's mock fills in its own types and passes every other id through unchanged.
        for mock in (_storage_and_identity, _eks, _route53, _ec2, _load_balancing, _kubernetes):
            resource_id = mock(args, outputs, token, region, resource_id)
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict:
        region = args.args.get("region") or "us-east-1"
        if args.token == "aws:index/getAvailabilityZones:getAvailabilityZones":
            return {
                "names": [f"{region}{suffix}" for suffix in "abc"],
                "zoneIds": [f"{region[:3]}{region.split('-')[-1]}-az{i}" for i in range(1, 4)],
                "id": region,
                "region": region,
            }
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": ACCOUNT_ID, "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/plan", "userId": "AIDAPLAN", "id": ACCOUNT_ID}
        if args.token == "aws:index/getPartition:getPartition":
            return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
        if args.token == "aws:arcregionswitch/getRoute53HealthChecks:getRoute53HealthChecks":
            plan_arn = args.args.get("planArn") or ""
            return {"planArn": plan_arn, "id": plan_arn, "healthChecks": [
                {"healthCheckId": f"{_digest(plan_arn, plan_region, length=8)}-rs-hc", "hostedZoneId": "",
                 "recordName": "", "region": plan_region, "status": "healthy"}
                for plan_region in self.region_switch_plans.get(plan_arn, [])]}
        if args.token == "aws:index/getIpRanges:getIpRanges":
            services = [s.lower() for s in args.args.get("services") or []]
            wanted = [r.lower() for r in args.args.get("regions") or []]
            blocks = {
                cidr for service in services for table_region, cidrs in IP_RANGES.get(service, {}).items()
                if not wanted or table_region in wanted for cidr in cidrs
            }
            # S3 has ranges in every region; outside the sample, one derived block.
            blocks |= {f"52.{200 + int(_digest('s3', r, length=2), 16) % 50}.0.0/16"
                       for r in wanted if "s3" in services and r not in IP_RANGES["s3"]}
            blocks = sorted(blocks)
            return {"cidrBlocks": blocks, "ipv6CidrBlocks": [], "createDate": "2026-11-30-00-00-00", "syncToken": 1764460800,
                    "id": _digest(*services, *wanted), "services": services, "regions": wanted}
        if args.token == "aws:ec2/getSubnets:getSubnets":
            filters = {f.get("name"): f.get("values") for f in args.args.get("filters") or []}
            vpc = (filters.get("vpc-id") or [""])[0]
            return {"ids": [f"subnet-{_digest('public', vpc, str(i), length=17)}" for i in range(2)], "id": region,
                    "filters": args.args.get("filters") or []}
        if args.token == "aws:ec2/getSubnet:getSubnet":
            subnet = args.args.get("id") or ""
            return {"id": subnet, "cidrBlock": f"10.250.{int(_digest('subnet', subnet, length=2), 16)}.0/24",
                    "availabilityZone": f"{region}a", "vpcId": f"vpc-{_digest('vpc', subnet, length=17)}"}
        return {}



def _storage_and_identity(args: pulumi.runtime.MockResourceArgs, outputs: dict, token: str, region: str, resource_id: str) -> str:
    """S3 buckets, KMS keys and aliases, IAM roles: the names and ARNs AWS gives them."""
    typ = args.typ
    if typ == "aws:s3/bucket:Bucket":
        bucket = outputs.get("bucket") or f"{outputs.get('bucketPrefix', args.name)}{token}"
        resource_id = bucket
        outputs.update(bucket=bucket, arn=f"arn:aws:s3:::{bucket}", bucketRegionalDomainName=f"{bucket}.s3.{region}.amazonaws.com")
    elif typ == "aws:kms/key:Key":
        resource_id = f"{token[:8]}-{token[8:12]}-4{_digest(token, length=3)}-8{_digest(token, 'b', length=3)}-{_digest(token, 'c')}"
        outputs.update(keyId=resource_id, arn=f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{resource_id}")
    elif typ == "aws:kms/alias:Alias":
        outputs["arn"] = f"arn:aws:kms:{region}:{ACCOUNT_ID}:{outputs.get('name', 'alias/' + args.name)}"
    elif typ == "aws:iam/role:Role":
        role_name = outputs.get("name") or f"{outputs.get('namePrefix', args.name)}{token[:8]}"
        resource_id = role_name
        outputs.update(name=role_name, arn=f"arn:aws:iam::{ACCOUNT_ID}:role/{role_name}", uniqueId=f"AROA{token.upper()}")
    return resource_id


def _eks(args: pulumi.runtime.MockResourceArgs, outputs: dict, token: str, region: str, resource_id: str) -> str:
    """EKS clusters (endpoint, OIDC issuer, cluster security group) and managed node groups."""
    typ = args.typ
    if typ == "aws:eks/cluster:Cluster":
        cluster_name = outputs.get("name") or args.name
        resource_id = cluster_name
        outputs.update(
            name=cluster_name,
            arn=f"arn:aws:eks:{region}:{ACCOUNT_ID}:cluster/{cluster_name}",
            endpoint=f"https://{token.upper()}.gr7.{region}.eks.amazonaws.com",
            certificateAuthority={"data": "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t"},
            identities=[{"oidcs": [{"issuer": f"https://oidc.eks.{region}.amazonaws.com/id/{token.upper()}"}]}],
            status="ACTIVE",
            # EKS creates the cluster security group the managed nodes' interfaces use.
            vpcConfig={**(outputs.get("vpcConfig") or {}), "clusterSecurityGroupId": f"sg-{token[:17]}"},
        )
    elif typ == "aws:eks/nodeGroup:NodeGroup":
        group = outputs.get("nodeGroupName") or args.name
        outputs.update(nodeGroupName=group, arn=f"arn:aws:eks:{region}:{ACCOUNT_ID}:nodegroup/{outputs.get('clusterName', '')}/{group}/{token}")
        resource_id = f"{outputs.get('clusterName', '')}:{group}"
    return resource_id


def _route53(args: pulumi.runtime.MockResourceArgs, outputs: dict, token: str, region: str, resource_id: str) -> str:
    """Hosted zones, health checks, records and ARC clusters' endpoints."""
    typ = args.typ
    if typ == "aws:route53/zone:Zone":
        resource_id = f"Z{token.upper()}"
        outputs.update(zoneId=resource_id, nameServers=[f"ns-{i}.awsdns-{i}.org" for i in range(1, 5)])
    elif typ == "aws:route53/healthCheck:HealthCheck":
        resource_id = f"{token[:8]}-{token[8:12]}-hc"
    elif typ == "aws:route53/record:Record":
        resource_id = f"{outputs.get('zoneId', '')}_{outputs.get('name', '')}_{outputs.get('type', '')}_{outputs.get('setIdentifier', '')}"
        outputs.setdefault("fqdn", outputs.get("name", ""))
    elif typ == "aws:route53recoverycontrol/cluster:Cluster":
        outputs["clusterEndpoints"] = [
            {"region": endpoint_region, "endpoint": f"https://{token[:8]}.route53-recovery-cluster.{endpoint_region}.amazonaws.com/v1"}
            for endpoint_region in ("ap-northeast-1", "ap-southeast-2", "eu-west-1", "us-east-1", "us-west-2")
        ]
    return resource_id


def _ec2(args: pulumi.runtime.MockResourceArgs, outputs: dict, token: str, region: str, resource_id: str) -> str:
    """EC2 ids with each kind's prefix; launch templates start at version 1."""
    typ = args.typ
    if typ.startswith("aws:ec2/"):
        prefix = {"vpc": "vpc", "subnet": "subnet", "natGateway": "nat", "eip": "eipalloc", "internetGateway": "igw",
                  "routeTable": "rtb", "vpcEndpoint": "vpce", "securityGroup": "sg"}
        kind = typ.split("/")[1].split(":")[0]
        resource_id = f"{prefix.get(kind, kind)}-{token[:17]}"
        if kind == "launchTemplate":  # EC2 numbers a new template's first version 1
            resource_id = f"lt-{token[:17]}"
            outputs.update(latestVersion=1, defaultVersion=1)
        elif kind == "capacityReservation":
            resource_id = f"cr-{token[:17]}"
    return resource_id


def _load_balancing(args: pulumi.runtime.MockResourceArgs, outputs: dict, token: str, region: str, resource_id: str) -> str:
    """Load balancers, target groups and web ACLs: names, ARNs, DNS names and zones."""
    typ = args.typ
    if typ == "aws:lb/loadBalancer:LoadBalancer":
        # ELB names: the given prefix plus a unique suffix, 32 characters at most.
        lb_name = (outputs.get("name") or f"{outputs.get('namePrefix', '')}{token}")[:32]
        kind = "net" if outputs.get("loadBalancerType") == "network" else "app"
        suffix = f"{kind}/{lb_name}/{token[:16]}"
        scheme = "internal-" if outputs.get("internal") else ""
        outputs.update(name=lb_name, arnSuffix=suffix, arn=f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:loadbalancer/{suffix}",
                       dnsName=f"{scheme}{lb_name}-{int(token[:8], 16)}.{region}.elb.amazonaws.com",
                       # ELB's own hosted zone per region (us-east-1's, as the ELB endpoints table lists it).
                       zoneId=ELB_ZONE_IDS.get(region) or f"Z{_digest('elb-zone', region).upper()}")
        resource_id = outputs["arn"]
    elif typ == "aws:lb/targetGroup:TargetGroup":
        tg_name = (outputs.get("name") or f"{outputs.get('namePrefix', '')}{token}")[:32]
        suffix = f"targetgroup/{tg_name}/{token[:16]}"
        outputs.update(name=tg_name, arnSuffix=suffix, arn=f"arn:aws:elasticloadbalancing:{region}:{ACCOUNT_ID}:{suffix}")
        resource_id = outputs["arn"]
    elif typ == "aws:wafv2/webAcl:WebAcl":
        acl_name = outputs.get("name") or f"{args.name}-{token[:7]}"
        outputs.update(name=acl_name, arn=f"arn:aws:wafv2:{region}:{ACCOUNT_ID}:regional/webacl/{acl_name}/{token[:8]}-{token[8:12]}")
    return resource_id


def _kubernetes(args: pulumi.runtime.MockResourceArgs, outputs: dict, token: str, region: str, resource_id: str) -> str:
    """Kubernetes objects: `namespace/name` ids, a hostname for a LoadBalancer Service."""
    typ = args.typ
    if typ.startswith("kubernetes:"):
        metadata = dict(outputs.get("metadata") or {})
        metadata.setdefault("name", args.name)
        outputs["metadata"] = metadata
        if typ == "kubernetes:core/v1:Service" and (outputs.get("spec") or {}).get("type") == "LoadBalancer":
            outputs["status"] = {"loadBalancer": {"ingress": [{"hostname": f"{args.name}-{token}.elb.amazonaws.com"}]}}
        resource_id = f"{metadata.get('namespace', 'default')}/{metadata['name']}"
    return resource_id


@dataclass
class ProgramRun:
    """What a program registered and exported under the mocks."""

    resources: list[RegisteredResource]
    outputs: dict[str, Any]
    # Names of stack outputs whose value is a secret (`pulumi.Output.secret` or derived from one).
    secret_outputs: frozenset[str] = frozenset()

    def of_type(self, type_token: str) -> list[RegisteredResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str) -> RegisteredResource:
        matches = [r for r in self.resources if r.type == type_token and r.name == name]
        if len(matches) != 1:
            raise LookupError(f"expected one {type_token} named {name!r}, found {len(matches)}")
        return matches[0]


def run_program(
    program: Callable[[], None],
    *,
    config: dict[str, str] | None = None,
    project: str = "recsys-dr",
    stack: str = "test",
    secret_keys: list[str] | None = None,
    logger: logging.Logger | None = None,
) -> ProgramRun:
    """Run `program` under the mock runtime and return its registrations and outputs.

    Args:
        program: a callable that declares resources (and may call `pulumi.export`).
        config: flat Pulumi config, `{"<namespace>:<key>": "<string or JSON>"}`.
        project: the Pulumi project name the program sees.
        stack: the Pulumi stack name the program sees.
        secret_keys: config keys the program must treat as secrets (`secure:` values in a
            stack file); `Config.get_secret`/`require_secret` wrap them as secret outputs.
        logger: where the program's `pulumi.log` messages go (default: the root logger).

    Raises whatever the program raises (for example a configuration error), after the
    runtime has settled.
    """
    pulumi.runtime.set_all_config(config or {}, list(secret_keys or ()))
    # Start every run from a fresh root stack: `set_mocks` only creates one when none
    # exists, so without this a second run would inherit the first run's exports.
    settings.ROOT.set(None)
    settings.SETTINGS.rpc_manager.clear()
    settings.SETTINGS.outputs.clear()
    mocks = CloudMocks()
    monitor = RecordingMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False, monitor=monitor, logger=logger)
    _sync_await(run_pulumi_func(program))
    outputs: dict[str, Any] = {}
    secret_outputs: set[str] = set()
    for key, value in sorted(get_root_resource().outputs.items()):
        outputs[key], is_secret = _resolve(value)
        if is_secret:
            secret_outputs.add(key)
    return ProgramRun(resources=list(monitor.registrations), outputs=outputs, secret_outputs=frozenset(secret_outputs))


def _resolve(value: Any) -> tuple[Any, bool]:
    output = pulumi.Output.from_input(value)
    return _sync_await(output.future()), bool(_sync_await(output.is_secret()))
