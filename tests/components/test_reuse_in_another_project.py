"""Components used the way another Pulumi project would: its own program, region pair and names."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
import pytest

from recsys_dr.components import (
    DnsFailover,
    DnsFailoverArgs,
    GpuCluster,
    GpuClusterArgs,
    ModelBucketArgs,
    ModelServing,
    ModelServingArgs,
    ReplicatedModelBucket,
    TwoRegionRecommender,
    TwoRegionRecommenderArgs,
)
from recsys_dr.components.dns.failover_records import DnsWiring
from recsys_dr.components.serving.model_serving import ServingWiring
from recsys_dr.components.settings import DnsSettings, GpuPoolSettings, ModelSettings, RegionPair, ServingSettings
from recsys_dr.policy.rules import GLOBAL_TYPE_PREFIXES
from recsys_dr.review.mock_runtime import ProgramRun
from tests.support import render

REGIONS = {"primary": "eu-west-1", "standby": "eu-central-1"}
SERVING = ServingSettings(allowed_cidrs=["203.0.113.0/24"])  # who may call the endpoint


def search_team_program() -> None:
    """A team serving a `search-ranker` model in Europe, assembling the parts itself."""
    provider = aws.Provider("eu", region="eu-west-1")
    opts = pulumi.ResourceOptions(providers=[provider])
    buckets = ReplicatedModelBucket("ranker-artifacts", ModelBucketArgs(regions=RegionPair(**REGIONS)), opts=opts)
    model = ModelSettings(name="search-ranker", version=12, manifest_sha256="0" * 64)
    endpoints, zones = {}, {}
    for role, bucket in (("primary", buckets.primary), ("standby", buckets.standby)):
        cluster = GpuCluster(
            f"ranker-{role}",
            GpuClusterArgs(region=REGIONS[role], gpu=GpuPoolSettings(instance_types=["g6.xlarge"], min_size=1, desired_size=1, max_size=3),
                           subnet_ids=[f"subnet-{role}-1", f"subnet-{role}-2"]),
            opts=opts,
        )
        subnets, cidrs = cluster.balancer_subnets("internet-facing")
        serving = ModelServing(
            f"ranker-{role}-serving",
            ModelServingArgs(region=REGIONS[role], model=model, serving=SERVING, namespace="search"),
            ServingWiring(
                cluster_name=cluster.cluster.name, kubernetes_provider=cluster.provider,
                bucket_name=bucket.bucket.bucket, bucket_arn=bucket.bucket.arn, kms_key_arn=bucket.key.arn,
                vpc_id=cluster.vpc_id, balancer_subnet_ids=subnets, balancer_cidrs=cidrs,
                node_security_group_id=cluster.node_security_group_id,
                load_balancer_controller_role=cluster.load_balancer_controller_role.name, addons=cluster.serving_addons,
            ),
            opts=opts,
        )
        endpoints[role] = serving.endpoint
        zones[role] = serving.front_door.load_balancer.zone_id
    dns = DnsFailover(
        "ranker-dns",
        DnsFailoverArgs(dns=DnsSettings(record_name="rank.search.example.eu", zone_id="Z0EU", failure_threshold=2),
                        model_name="search-ranker"),
        DnsWiring(endpoints=endpoints, alias_zone_ids=zones),
        opts=opts,
    )
    pulumi.export("endpoints", endpoints)
    pulumi.export("budget", dns.budget.total_seconds)


@pytest.fixture(scope="module")
def search_team() -> ProgramRun:
    return render(search_team_program, stack="search-prod")


def test_regional_resources_follow_the_projects_region_pair(search_team):
    regional = [r for r in search_team.resources if r.custom and r.type.startswith("aws:") and not r.type.startswith(GLOBAL_TYPE_PREFIXES)]
    assert {r.inputs["region"] for r in regional} == set(REGIONS.values())
    for role, region in REGIONS.items():
        assert search_team.one("aws:eks/cluster:Cluster", f"ranker-{role}").inputs["region"] == region
        assert search_team.one("aws:s3/bucket:Bucket", f"ranker-artifacts-{role}").inputs["region"] == region


def test_names_are_the_projects_own(search_team):
    names = {r.name for r in search_team.resources}
    assert not any(name.startswith("recs") for name in names)
    assert {"ranker-artifacts", "ranker-primary", "ranker-standby", "ranker-dns"} <= names


def test_model_and_namespace_come_from_the_project(search_team):
    deployments = search_team.of_type("kubernetes:apps/v1:Deployment")
    assert {d.inputs["metadata"]["namespace"] for d in deployments} == {"search"}
    assert {d.inputs["metadata"]["name"] for d in deployments} == {"search-ranker-tf-serving"}
    checks = search_team.of_type("aws:route53/healthCheck:HealthCheck")
    assert {c.inputs["resourcePath"] for c in checks} == {"/v1/models/search-ranker"}


def test_gpu_pool_uses_the_projects_instance_type(search_team):
    group = search_team.one("aws:eks/nodeGroup:NodeGroup", "ranker-standby-gpu")
    assert group.inputs["instanceTypes"] == ["g6.xlarge"]
    assert group.inputs["scalingConfig"] == {"minSize": 1, "desiredSize": 1, "maxSize": 3}


def test_budget_follows_the_projects_checks_and_the_alias_ttl(search_team):
    assert search_team.outputs["budget"] == 10 * 2 + 60


def test_two_deployments_side_by_side_do_not_clash():
    def program() -> None:
        for name, pair in (("ranker", ("eu-west-1", "eu-central-1")), ("recs", ("us-east-1", "us-west-2"))):
            TwoRegionRecommender(name, TwoRegionRecommenderArgs(
                regions=RegionPair(primary=pair[0], standby=pair[1]), model=ModelSettings(name=name, version=1, manifest_sha256="0" * 64),
                dns=DnsSettings(record_name=f"{name}.example.com", zone_id="Z0SHARED"), serving=SERVING,
            ))

    run = render(program)
    urns = [r.urn for r in run.resources]
    assert len(urns) == len(set(urns))
    assert len(run.of_type("aws:eks/cluster:Cluster")) == 4
