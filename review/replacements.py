"""Which property changes make Pulumi replace a resource, and which resources hurt to replace.

A change to one of these input paths (or anything below it) makes the provider delete and
re-create the resource instead of updating it in place; the table follows the providers'
ForceNew/replaceOnChanges schema for the properties this system sets. A resource type not
listed is assumed to update in place, except that `region` (pulumi-aws v7 regional
resources) and `metadata.name`/`metadata.namespace` (Kubernetes objects) always replace.

| type | replace-forcing input paths |
| --- | --- |
| aws:s3/bucket:Bucket | bucket, bucketPrefix, region, objectLockEnabled |
| aws:eks/cluster:Cluster | name, region, roleArn, vpcConfig.subnetIds, vpcConfig.securityGroupIds, encryptionConfig, kubernetesNetworkConfig.serviceIpv4Cidr, kubernetesNetworkConfig.ipFamily, bootstrapSelfManagedAddons |
| aws:eks/nodeGroup:NodeGroup | nodeGroupName, nodeGroupNamePrefix, clusterName, region, amiType, instanceTypes, subnetIds, nodeRoleArn, capacityType, diskSize, remoteAccess, launchTemplate.name, launchTemplate.id |
| aws:kms/key:Key | region, keyUsage, customerMasterKeySpec, multiRegion, xksKeyId, customKeyStoreId |
| aws:route53/zone:Zone | name, delegationSetId |
| aws:route53/record:Record | zoneId, name, setIdentifier |
| aws:route53/healthCheck:HealthCheck | type, requestInterval, measureLatency, routingControlArn |
| aws:ec2/vpc:Vpc | cidrBlock, region, instanceTenancy |
| aws:ec2/subnet:Subnet | vpcId, cidrBlock, availabilityZone, availabilityZoneId, region |
| aws:iam/role:Role | name, namePrefix, path |
| aws:s3/bucketReplicationConfig:BucketReplicationConfig | bucket, region |
| pulumi:providers:kubernetes | kubeconfig (then every resource of that provider is replaced too) |
| aws:lb/loadBalancer:LoadBalancer | name, namePrefix, internal, loadBalancerType, region |
| aws:lb/targetGroup:TargetGroup | name, namePrefix, port, protocol, protocolVersion, targetType, vpcId, region |
| aws:wafv2/webAcl:WebAcl | name, namePrefix, scope, region |
| kubernetes:apps/v1:Deployment | spec.selector (plus metadata.name/namespace) |
| kubernetes:core/v1:Service | spec.clusterIP |

Stateful or expensive types (a replacement or deletion is flagged loudly in the diff):
S3 bucket (every model version), EKS cluster (control plane, all workloads), node group
(GPU capacity, minutes to come back), KMS key (data under the old key needs it until it is
deleted), hosted zone (new name servers break the delegation).
"""

from __future__ import annotations

REPLACE_PATHS: dict[str, tuple[str, ...]] = {
    "aws:s3/bucket:Bucket": ("bucket", "bucketPrefix", "region", "objectLockEnabled"),
    "aws:eks/cluster:Cluster": (
        "name", "region", "roleArn", "vpcConfig.subnetIds", "vpcConfig.securityGroupIds", "encryptionConfig",
        "kubernetesNetworkConfig.serviceIpv4Cidr", "kubernetesNetworkConfig.ipFamily", "bootstrapSelfManagedAddons",
    ),
    "aws:eks/nodeGroup:NodeGroup": (
        "nodeGroupName", "nodeGroupNamePrefix", "clusterName", "region", "amiType", "instanceTypes", "subnetIds",
        "nodeRoleArn", "capacityType", "diskSize", "remoteAccess", "launchTemplate.name", "launchTemplate.id",
    ),
    "aws:kms/key:Key": ("region", "keyUsage", "customerMasterKeySpec", "multiRegion", "xksKeyId", "customKeyStoreId"),
    "aws:route53/zone:Zone": ("name", "delegationSetId"),
    "aws:route53/record:Record": ("zoneId", "name", "setIdentifier"),
    "aws:route53/healthCheck:HealthCheck": ("type", "requestInterval", "measureLatency", "routingControlArn"),
    "aws:ec2/vpc:Vpc": ("cidrBlock", "region", "instanceTenancy"),
    "aws:ec2/subnet:Subnet": ("vpcId", "cidrBlock", "availabilityZone", "availabilityZoneId", "region"),
    "aws:iam/role:Role": ("name", "namePrefix", "path"),
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": ("bucket", "region"),
    # terraform-provider-aws internal/service/elbv2 and wafv2 schemas (ForceNew).
    "aws:lb/loadBalancer:LoadBalancer": ("name", "namePrefix", "internal", "loadBalancerType"),
    "aws:lb/targetGroup:TargetGroup": ("name", "namePrefix", "port", "protocol", "protocolVersion", "targetType", "vpcId"),
    "aws:wafv2/webAcl:WebAcl": ("name", "namePrefix", "scope"),
    "kubernetes:apps/v1:Deployment": ("spec.selector",),
    "kubernetes:core/v1:Service": ("spec.clusterIP",),
    # pulumi-kubernetes DiffConfig replaces the provider when its kubeconfig is unknown or points
    # to another cluster (provider/pkg/provider/provider.go); its resources are replaced with it.
    "pulumi:providers:kubernetes": ("kubeconfig",),
}

# Paths that replace any resource of the given type prefix.
REPLACE_PATHS_BY_PREFIX: dict[str, tuple[str, ...]] = {
    "aws:": ("region",),
    "kubernetes:": ("metadata.name", "metadata.namespace"),
}

STATEFUL_TYPES: dict[str, str] = {
    "aws:s3/bucket:Bucket": "S3 bucket (holds every model version)",
    "aws:eks/cluster:Cluster": "EKS cluster (control plane and every workload on it)",
    "aws:eks/nodeGroup:NodeGroup": "EKS node group (capacity; GPU nodes take minutes to return)",
    "aws:kms/key:Key": "KMS key (data encrypted under it)",
    "aws:route53/zone:Zone": "Route 53 hosted zone (new name servers break delegation)",
}


def replace_paths(resource_type: str) -> tuple[str, ...]:
    """All replace-forcing input paths for `resource_type`."""
    paths = list(REPLACE_PATHS.get(resource_type, ()))
    for prefix, extra in REPLACE_PATHS_BY_PREFIX.items():
        if resource_type.startswith(prefix):
            paths += [p for p in extra if p not in paths]
    return tuple(paths)


def forces_replacement(resource_type: str, path: str) -> bool:
    """Whether changing the input at `path` (e.g. `vpcConfig.subnetIds[1]`) replaces the resource."""
    for forcing in replace_paths(resource_type):
        if path == forcing or path.startswith(forcing + ".") or path.startswith(forcing + "["):
            return True
    return False


def stateful_label(resource_type: str) -> str | None:
    """A short description when `resource_type` is stateful or expensive, else None."""
    return STATEFUL_TYPES.get(resource_type)
