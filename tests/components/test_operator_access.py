"""Operator access (EKS access entries) and the GPU pool's accelerator label, as plain functions."""

from __future__ import annotations

import pulumi
import pytest

from recsys_dr.components.cluster import access
from recsys_dr.components.cluster.addons import ACCELERATOR_LABEL_KEY, accelerator_label
from tests.support import render

ONCALL = "arn:aws:iam::123456789012:role/oncall"
PATHED = "arn:aws:iam::123456789012:role/teams/platform/sre-admin"


def test_role_arns_with_and_without_path_are_accepted():
    assert access.admin_role_problems("cluster.adminRoleArns", [ONCALL, PATHED]) == []


@pytest.mark.parametrize(
    ("arn", "hint"),
    [
        ("arn:aws:sts::123456789012:assumed-role/oncall/alice", "an assumed-role session ARN"),
        ("arn:aws:iam::123456789012:user/alice", ""),
        ("oncall", ""),
        ("arn:aws:iam::12345:role/oncall", ""),
    ],
)
def test_anything_but_a_role_arn_is_refused(arn, hint):
    [problem] = access.admin_role_problems("cluster.adminRoleArns", [arn])
    assert problem.startswith("`cluster.adminRoleArns` must hold IAM role ARNs")
    assert problem.endswith(f"Received: {arn!r}")
    assert hint in problem


def test_a_role_listed_twice_is_refused():
    assert access.admin_role_problems("cluster.adminRoleArns", [ONCALL, ONCALL]) == [
        f"`cluster.adminRoleArns` must name each role once. Received twice: {ONCALL}"
    ]


def test_two_roles_of_one_name_are_refused():
    [problem] = access.admin_role_problems("cluster.adminRoleArns", [ONCALL, "arn:aws:iam::210987654321:role/oncall"])
    assert problem.startswith("`cluster.adminRoleArns` must not name two roles called oncall")


def test_role_name_drops_the_path():
    assert access.role_name(PATHED) == "sre-admin"


@pytest.fixture
def granted():
    def program():
        parent = pulumi.ComponentResource("test:index:Parent", "p")
        access.grant_cluster_admin("recs-standby", region="us-west-2", cluster_name="recs-standby", role_arns=[ONCALL, PATHED],
                                   tags={"team": "recs"}, parent=parent)

    return render(program)


def test_each_role_gets_an_entry_and_a_cluster_admin_association(granted):
    entries = granted.of_type("aws:eks/accessEntry:AccessEntry")
    associations = granted.of_type("aws:eks/accessPolicyAssociation:AccessPolicyAssociation")
    assert sorted(e.inputs["principalArn"] for e in entries) == sorted([ONCALL, PATHED])
    assert {e.inputs["type"] for e in entries} == {"STANDARD"}
    assert sorted(a.name for a in associations) == ["recs-standby-admin-oncall", "recs-standby-admin-sre-admin"]
    for association in associations:
        assert association.inputs["policyArn"] == "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"
        assert association.inputs["accessScope"] == {"type": "cluster"}
        assert association.inputs["region"] == "us-west-2"
        # The association waits for its entry (EKS refuses an association without one).
        entry = granted.one("aws:eks/accessEntry:AccessEntry", association.name)
        assert entry.urn in association.property_dependencies["principalArn"]


@pytest.mark.parametrize(
    ("types", "value"),
    [(["g5.xlarge"], "nvidia-a10g"), (["g5.2xlarge", "g6.2xlarge"], "nvidia-a10g-l4"), (["p5.48xlarge"], "nvidia-h100"), (["g4dn.xlarge"], "nvidia-t4")],
)
def test_accelerator_label_names_the_pool_gpus(types, value):
    assert accelerator_label(types) == {ACCELERATOR_LABEL_KEY: value}


def test_accelerator_label_value_is_a_valid_label_value():
    import re

    value = accelerator_label(["g4dn.xlarge", "g5.xlarge", "g6.xlarge", "g6e.xlarge"])[ACCELERATOR_LABEL_KEY]
    # Kubernetes label values: at most 63 characters, alphanumerics and -_. inside.
    assert re.fullmatch(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?", value)


def test_accelerator_label_needs_a_gpu_type():
    with pytest.raises(ValueError, match="not NVIDIA GPU instance types"):
        accelerator_label(["m6i.large"])
