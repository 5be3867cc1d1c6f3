"""`cluster`: EKS control plane, system pool and network of each region."""

from __future__ import annotations

import ipaddress

from pydantic import field_validator, model_validator

from recsys_dr.components.settings.aws_limits import EKS_KUBERNETES_VERSIONS, VPC_CIDR_ALLOWED, vpc_cidr_problems
from recsys_dr.components.settings.base import Settings, problem, setting
from recsys_dr.policy.rules.cidrs import MAX_PUBLIC_SHARE_TEXT, coverage

# The values CloudWatch Logs accepts for a log group's retention (PutRetentionPolicy).
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)


class VpcCidrs(Settings):
    """One VPC block per region; distinct, so the two VPCs can be peered later."""

    primary: str = setting("10.0.0.0/16", description="VPC block of the primary region.", allowed=VPC_CIDR_ALLOWED)
    standby: str = setting("10.1.0.0/16", description="VPC block of the standby region.", allowed=VPC_CIDR_ALLOWED)

    @field_validator("primary", "standby")
    @classmethod
    def _cidr(cls, value: str) -> str:
        problems = vpc_cidr_problems("{key}", value)
        if problems:
            raise problem(problems[0])
        return value

    @model_validator(mode="after")
    def _apart(self) -> VpcCidrs:
        primary, standby = ipaddress.ip_network(self.primary), ipaddress.ip_network(self.standby)
        if primary.overlaps(standby):
            raise problem(f"`{{key}}` must not overlap between primary and standby. Received: primary={primary}, standby={standby}")
        return self

    def of(self, role: str) -> str:
        return getattr(self, role)


class SubnetIds(Settings):
    """Existing private subnets per region; a region named here gets no new network."""

    primary: list[str] | None = setting(None, description="Subnet ids (two zones or more) in the primary region.",
                                        allowed="a list of at least 2 subnet ids", min_length=2)
    standby: list[str] | None = setting(None, description="Subnet ids (two zones or more) in the standby region.",
                                        allowed="a list of at least 2 subnet ids", min_length=2)

    def of(self, role: str) -> list[str] | None:
        return getattr(self, role)


class ClusterSettings(Settings):
    """The EKS clusters (one per region) and their networks."""

    kubernetes_version: str = setting("1.35", description="EKS Kubernetes version of both clusters (1.35: standard support until 2027-03).",
                                      allowed=f"an EKS-supported \"major.minor\" version, one of: {', '.join(EKS_KUBERNETES_VERSIONS)}")
    system_instance_type: str = setting("m6i.large", description="Instance type of the CPU pool that runs cluster add-ons.",
                                        allowed="an EC2 instance type", pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")
    system_node_count: int = setting(2, description="Nodes in the CPU pool.", allowed="an integer from 1 to 10", ge=1, le=10)
    availability_zones: int = setting(2, description="Zones the network spreads over.", allowed="one of: 2, 3", ge=2, le=3)
    single_nat_gateway: bool = setting(False, description="One NAT gateway for all zones (cheaper; losing its zone cuts egress).",
                                       allowed="true or false")
    vpc_cidrs: VpcCidrs = setting(default_factory=VpcCidrs, description="VPC block per region.", allowed="an object with keys primary, standby")
    subnet_ids: SubnetIds | None = setting(None, description="Existing private subnets per region instead of a new network.",
                                           allowed="an object with keys primary and/or standby")
    public_access_cidrs: list[str] = setting(
        default_factory=list, description="Who may reach the EKS API endpoints from the internet; empty: the public endpoint "
        f"is off and the API is reached from inside the VPC only. At most {MAX_PUBLIC_SHARE_TEXT} of the public IPv4 space; "
        "in prod no public address at all.",
        allowed=f"a list of IPv4 CIDRs such as [203.0.113.0/24], covering at most {MAX_PUBLIC_SHARE_TEXT} of the public IPv4 space",
    )

    admin_role_arns: list[str] = setting(
        default_factory=list, description="IAM roles (on-call, platform admins) given cluster admin in both clusters through EKS "
        "access entries; besides them only the identity that created the clusters can use kubectl.",
        allowed="a list of IAM role ARNs such as [arn:aws:iam::123456789012:role/oncall], each once",
    )
    log_retention_days: int = setting(
        90, description="Days the EKS control-plane log group (/aws/eks/<cluster>/cluster) keeps api, audit and authenticator logs.",
        allowed=f"one of: {', '.join(map(str, LOG_RETENTION_DAYS))}",
    )

    @field_validator("admin_role_arns")
    @classmethod
    def _admin_roles(cls, value: list[str]) -> list[str]:
        from recsys_dr.components.cluster.access import admin_role_problems

        problems = admin_role_problems("{key}", value)
        if problems:
            raise problem("\n".join(problems))
        return value

    @field_validator("log_retention_days")
    @classmethod
    def _retention(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise problem(f"`{{key}}` must be one of: {', '.join(map(str, LOG_RETENTION_DAYS))} (CloudWatch Logs retention values). Received: {value!r}")
        return value

    @field_validator("kubernetes_version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value not in EKS_KUBERNETES_VERSIONS:
            if not value.count(".") == 1 or not all(part.isdigit() for part in value.split(".")):
                raise problem(f'`{{key}}` must be an EKS "major.minor" version string such as "1.33". Received: {value!r}')
            raise problem(f"`{{key}}` must be a version EKS supports, one of: {', '.join(EKS_KUBERNETES_VERSIONS)}. Received: {value!r}")
        return value

    @field_validator("public_access_cidrs")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                if ipaddress.ip_network(cidr).version == 4:
                    continue
            except ValueError:
                pass
            raise problem(f"`{{key}}` must be a list of IPv4 CIDRs such as [203.0.113.0/24]. Received: {value!r}")
        covered = coverage(value)
        if covered.too_open:
            raise problem(f"`{{key}}` covers {covered.describe()}; at most {MAX_PUBLIC_SHARE_TEXT} is allowed: list the operators' "
                          f"networks, or none to keep the API endpoint private. Received: {value!r}")
        return value
