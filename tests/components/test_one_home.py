"""A rule that validation, components, policy and estimate share has one home the others import.

Each test fails when a second copy appears: by reading the sources (a second check of the same
thing) or by asking every user the same question (a copy that drifted answers differently).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from recsys_dr.components.cluster.network import network_problems
from recsys_dr.components.settings import SettingsError, VpcCidrs
from recsys_dr.components.settings import aws_limits
from recsys_dr.policy.rules import cluster as cluster_rules
from recsys_dr.policy.rules import dns as dns_rules
from recsys_dr.review import estimate

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("components", "model", "stacks", "cli", "review", "operations", "policy", "sandbox", "benchmarks")


def project_modules() -> dict[str, ast.Module]:
    return {str(path.relative_to(ROOT)): ast.parse(path.read_text(), str(path))
            for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))}


def module_constants(tree: ast.Module) -> list[str]:
    names = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def test_vpc_block_size_is_checked_in_one_place():
    """`aws_limits.vpc_cidr_problems` alone reads a network's prefix length (the /16 to /20 rule)."""
    assert sorted(path for path, tree in project_modules().items() for node in ast.walk(tree)
                  if isinstance(node, ast.Attribute) and node.attr == "prefixlen") == ["components/settings/aws_limits.py"]


@pytest.mark.parametrize("cidr", ["10.0.0.0/16", "10.0.0.0/20", "10.0.0.0/15", "10.0.0.0/21", "10.0.0.0/8", "fd00::/56", "10.0.0.1/16", "x"])
def test_settings_and_network_accept_the_same_vpc_blocks(cidr):
    try:
        VpcCidrs(primary=cidr, standby="172.16.0.0/16")
        settings_accept = True
    except SettingsError:
        settings_accept = False
    network_accepts = not [p for p in network_problems(cidr, 2) if p.startswith("`vpc_cidr`")]
    assert settings_accept == network_accepts == (aws_limits.vpc_cidr_problems("k", cidr) == [])


def test_failover_ttl_limit_has_one_home():
    """The only TTL constants: the alias TTL Route 53 fixes, and the policy's limit for failover records."""
    ttl_constants = sorted((path, name) for path, tree in project_modules().items()
                           for name in module_constants(tree) if "TTL" in name.split("_"))
    assert ttl_constants == [("components/settings/aws_limits.py", "ALIAS_RECORD_TTL"), ("policy/rules/dns.py", "MAX_FAILOVER_TTL")]
    # The records the components make (aliases, fixed TTL) stay within the limit the policy holds others to.
    assert aws_limits.ALIAS_RECORD_TTL <= dns_rules.MAX_FAILOVER_TTL


NODE_GROUPS = [
    {"instanceTypes": ["g5.xlarge"], "amiType": "AL2023_x86_64_NVIDIA"},
    {"instanceTypes": ["g4ad.xlarge"], "amiType": "AL2023_x86_64_STANDARD"},
    {"instanceTypes": ["m6i.large"], "amiType": "AL2_x86_64_GPU"},
    {"instanceTypes": ["inf2.xlarge"], "amiType": "AL2023_x86_64_NEURON"},
    {"instanceTypes": ["c6i.large"], "amiType": "AL2023_x86_64_STANDARD", "labels": {"recsys-dr/pool": "fallback"}},
    {"instanceTypes": ["c6i.large"], "labels": {"k8s.amazonaws.com/accelerator": "nvidia-a10g"}},
    {"instanceTypes": ["c6i.large"], "nodeGroupName": "serving-gpu"},
    {"instanceTypes": ["p5.48xlarge"]},
    {},
]


@pytest.mark.parametrize("props", NODE_GROUPS)
def test_estimate_and_policy_agree_on_what_a_gpu_node_group_is(props):
    resource = {"type": cluster_rules.NODE_GROUP, "inputs": props}
    assert estimate.is_gpu_node_group(resource) == cluster_rules.is_gpu_node_group(props)


def test_gpu_node_group_is_defined_once():
    """Besides the policy's, a definition may only hand the question on (the estimate's does)."""
    definitions = {path: node for path, tree in project_modules().items() for node in ast.walk(tree)
                   if isinstance(node, ast.FunctionDef) and node.name == "is_gpu_node_group"}
    assert sorted(definitions) == ["policy/rules/cluster.py", "review/estimate.py"]
    delegate = definitions["review/estimate.py"]
    assert len(delegate.body) == 2 and "rules_gpu_node_group" in ast.unparse(delegate)
