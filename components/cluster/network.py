"""Network: a VPC with public and private subnets across availability zones in one region."""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from recsys_dr.components.cluster.policies import s3_gateway_endpoint_policy
from recsys_dr.components.settings.aws_limits import vpc_cidr_problems
from recsys_dr.components.settings.base import raise_if_problems, region_problems

MIN_ZONES, MAX_ZONES = 2, 3
# Zones where EKS does not place control-plane subnets (AWS EKS user guide, "subnet requirements").
EKS_UNSUPPORTED_ZONE_IDS = ("use1-az3", "usw1-az2", "cac1-az3")


def usable_zones(names: list[str], count: int, region: str) -> list[str]:
    """The first `count` zones, or a clear error when the region has fewer usable ones."""
    if len(names) < count:
        raise ValueError(
            f"{region} has {len(names)} availability zones usable by EKS ({', '.join(names)}); "
            f"`availability_zone_count` is {count}"
        )
    return names[:count]


def subnet_cidrs(vpc_cidr: str, zone_count: int) -> tuple[list[str], list[str]]:
    """(private, public) CIDRs: a quarter of the VPC per private subnet, small public ones.

    Example: `subnet_cidrs("10.0.0.0/16", 2)` ->
    `(["10.0.0.0/18", "10.0.64.0/18"], ["10.0.192.0/22", "10.0.196.0/22"])`.
    """
    quarters = list(ipaddress.ip_network(vpc_cidr).subnets(prefixlen_diff=2))
    public = list(quarters[3].subnets(prefixlen_diff=4))
    return [str(q) for q in quarters[:zone_count]], [str(p) for p in public[:zone_count]]


def network_problems(vpc_cidr: object, zone_count: object) -> list[str]:
    problems = vpc_cidr_problems("vpc_cidr", vpc_cidr)
    if isinstance(zone_count, bool) or zone_count not in range(MIN_ZONES, MAX_ZONES + 1):
        problems.append(f"`availability_zone_count` must be one of: 2, 3. Received: {zone_count!r}")
    return problems


@dataclass(frozen=True, kw_only=True)
class NetworkArgs:
    """Arguments of `Network`.

    Attributes:
        region: AWS region of every resource.
        vpc_cidr: IPv4 block of the VPC, /16 to /20. Default "10.0.0.0/16".
        availability_zone_count: zones to spread subnets over, 2 or 3. Default 2.
        single_nat_gateway: one NAT gateway for all zones (cheaper; losing its zone cuts
            egress of the others). Default False: one per zone.
        model_bucket_arns: buckets the private subnets may read through the S3 gateway
            endpoint, beside the image-layer buckets (`policies.s3_gateway_endpoint_policy`).
            Default none: image layers only.
        tags: tags on every resource. Default none.
    """

    region: str
    vpc_cidr: str = "10.0.0.0/16"
    availability_zone_count: int = 2
    single_nat_gateway: bool = False
    model_bucket_arns: Sequence[pulumi.Input[str]] = ()
    tags: Mapping[str, str] = field(default_factory=dict)


class Network(pulumi.ComponentResource):
    """Public subnets (internet-facing balancers, NAT) and private subnets (nodes) in `availability_zone_count` zones.

    Private subnets reach S3 through a gateway endpoint, so model downloads stay in the
    region and off the NAT gateways.
    """

    vpc: aws.ec2.Vpc
    private_subnet_ids: pulumi.Output[list[str]]
    public_subnet_ids: pulumi.Output[list[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        raise_if_problems(
            "NetworkArgs",
            region_problems("region", args.region) + network_problems(args.vpc_cidr, args.availability_zone_count),
        )
        super().__init__("recsys-dr:components:Network", name, None, opts)
        zones = self._zones(args)
        private_cidrs, public_cidrs = subnet_cidrs(args.vpc_cidr, args.availability_zone_count)
        gateway, public_routes = self._vpc(name, args)
        public_subnets, private_route_tables, private_subnets, nat_gateways = [], [], [], []
        for index, (private_cidr, public_cidr) in enumerate(zip(private_cidrs, public_cidrs)):
            zone = zones[index]
            public_subnets.append(self._public_subnet(name, args, index, public_cidr, zone, public_routes))
            if index == 0 or not args.single_nat_gateway:
                nat_gateways.append(self._nat_gateway(name, args, index, public_subnets[-1], gateway))
            routes, private = self._private_subnet(name, args, index, private_cidr, zone, nat_gateways[-1])
            private_route_tables.append(routes)
            private_subnets.append(private)
        self._s3_endpoint(name, args, private_route_tables)
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private_subnets])
        self.private_subnet_zones = pulumi.Output.all(*[s.availability_zone for s in private_subnets])
        self.public_subnet_ids = pulumi.Output.all(*[s.id for s in public_subnets])
        self.register_outputs({
            "vpcId": self.vpc.id,
            "privateSubnetIds": self.private_subnet_ids,
            "publicSubnetIds": self.public_subnet_ids,
        })

    def _zones(self, args: NetworkArgs) -> pulumi.Output[list[str]]:
        """The first `availability_zone_count` available zones EKS supports in the region."""
        return aws.get_availability_zones_output(
            state="available", region=args.region, exclude_zone_ids=list(EKS_UNSUPPORTED_ZONE_IDS),
            opts=pulumi.InvokeOutputOptions(parent=self),
        ).names.apply(lambda names: usable_zones(names, args.availability_zone_count, args.region))

    def _vpc(self, name: str, args: NetworkArgs) -> tuple[aws.ec2.InternetGateway, aws.ec2.RouteTable]:
        """The VPC, its internet gateway and the public subnets' route table through it."""
        child, region, tags = pulumi.ResourceOptions(parent=self), args.region, dict(args.tags)
        self.vpc = aws.ec2.Vpc(
            name, region=region, cidr_block=args.vpc_cidr, enable_dns_hostnames=True, enable_dns_support=True,
            tags={**tags, "Name": name}, opts=child,
        )
        gateway = aws.ec2.InternetGateway(name, region=region, vpc_id=self.vpc.id, tags={**tags, "Name": name}, opts=child)
        public_routes = aws.ec2.RouteTable(
            f"{name}-public", region=region, vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}], tags={**tags, "Name": f"{name}-public"}, opts=child,
        )
        return gateway, public_routes

    def _public_subnet(self, name: str, args: NetworkArgs, index: int, cidr: str, zone: pulumi.Input[str],
                       public_routes: aws.ec2.RouteTable) -> aws.ec2.Subnet:
        child, region, tags = pulumi.ResourceOptions(parent=self), args.region, dict(args.tags)
        public = aws.ec2.Subnet(
            f"{name}-public-{index}", region=region, vpc_id=self.vpc.id, cidr_block=cidr, availability_zone=zone,
            tags={**tags, "Name": f"{name}-public-{index}", "kubernetes.io/role/elb": "1"}, opts=child,
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-public-{index}", region=region, subnet_id=public.id, route_table_id=public_routes.id, opts=child
        )
        return public

    def _nat_gateway(self, name: str, args: NetworkArgs, index: int, public: aws.ec2.Subnet,
                     gateway: aws.ec2.InternetGateway) -> aws.ec2.NatGateway:
        region, tags = args.region, dict(args.tags)
        address = aws.ec2.Eip(f"{name}-nat-{index}", region=region, domain="vpc", tags={**tags, "Name": f"{name}-nat-{index}"},
                              opts=pulumi.ResourceOptions(parent=self))
        return aws.ec2.NatGateway(
            f"{name}-{index}", region=region, subnet_id=public.id, allocation_id=address.id,
            tags={**tags, "Name": f"{name}-{index}"}, opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]),
        )

    def _private_subnet(self, name: str, args: NetworkArgs, index: int, cidr: str, zone: pulumi.Input[str],
                        nat_gateway: aws.ec2.NatGateway) -> tuple[aws.ec2.RouteTable, aws.ec2.Subnet]:
        """A nodes' subnet and its route table, out through `nat_gateway`."""
        child, region, tags = pulumi.ResourceOptions(parent=self), args.region, dict(args.tags)
        routes = aws.ec2.RouteTable(
            f"{name}-private-{index}", region=region, vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat_gateway.id}],
            tags={**tags, "Name": f"{name}-private-{index}"}, opts=child,
        )
        private = aws.ec2.Subnet(
            f"{name}-private-{index}", region=region, vpc_id=self.vpc.id, cidr_block=cidr, availability_zone=zone,
            tags={**tags, "Name": f"{name}-private-{index}", "kubernetes.io/role/internal-elb": "1"}, opts=child,
        )
        aws.ec2.RouteTableAssociation(
            f"{name}-private-{index}", region=region, subnet_id=private.id, route_table_id=routes.id, opts=child
        )
        return routes, private

    def _s3_endpoint(self, name: str, args: NetworkArgs, private_route_tables: list[aws.ec2.RouteTable]) -> None:
        """The S3 gateway endpoint on the private route tables, admitting the model buckets and image layers only."""
        region = args.region
        aws.ec2.VpcEndpoint(
            f"{name}-s3", region=region, vpc_id=self.vpc.id, service_name=f"com.amazonaws.{region}.s3",
            vpc_endpoint_type="Gateway", route_table_ids=[t.id for t in private_route_tables],
            policy=pulumi.Output.all(*args.model_bucket_arns).apply(
                lambda arns: json.dumps(s3_gateway_endpoint_policy(region=region, model_bucket_arns=list(arns)))),
            tags={**dict(args.tags), "Name": f"{name}-s3"}, opts=pulumi.ResourceOptions(parent=self),
        )
