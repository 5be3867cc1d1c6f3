"""`recsys-dr plan --graph resources` and the collapsed resource graph in the PR comment."""

from __future__ import annotations

from recsys_dr.cli.main import main
from recsys_dr.review.graph import is_mermaid_flowchart, mermaid

from .conftest import FIXTURE_CONFIG, FIXTURE_PROGRAM

FIXTURE_ARGS = ["--program-dir", str(FIXTURE_PROGRAM), "--config-dir", str(FIXTURE_CONFIG)]


def test_graph_groups_resources_by_region_with_roles(fixture_plan):
    graph = mermaid(fixture_plan.document)
    assert is_mermaid_flowchart(graph)
    assert 'subgraph g0["us-east-1 (primary)"]' in graph
    assert 'subgraph g1["us-west-2 (standby)"]' in graph
    assert 'subgraph g2["global"]' in graph


def test_graph_draws_every_cluster_bucket_and_gpu_group_and_counts_the_rest(fixture_plan):
    graph = mermaid(fixture_plan.document)
    for type_token in ("aws:eks/cluster:Cluster", "aws:s3/bucket:Bucket", "aws:eks/nodeGroup:NodeGroup",
                       "kubernetes:apps/v1:Deployment", "aws:route53/record:Record"):
        for resource in fixture_plan.of_type(type_token):
            assert f"<br/>{resource['name']}\"" in graph
    drawn = graph.count("<br/>")
    counted = sum(int(part.split(" more")[0]) for part in graph.split('more["+')[1:])
    providers = sum(r["type"].startswith("pulumi:providers:") for r in fixture_plan.resources)
    assert drawn + counted == fixture_plan.document["summary"]["resourceCount"] - providers


def test_graph_edges_follow_dependencies(fixture_plan):
    graph = mermaid(fixture_plan.document)
    lines = graph.splitlines()
    node = {line.split('"')[1].split("<br/>")[1]: line.split("[")[0].strip() for line in lines if "<br/>" in line}
    assert f"  {node['primary-models']} --> {node['replication']}" in lines
    assert f"  {node['primary-cluster']} --> {node['primary-gpu']}" in lines
    assert f"  {node['primary-health']} --> {node['primary-record']}" in lines


def test_graph_is_deterministic(fixture_plan):
    assert mermaid(fixture_plan.document) == mermaid(fixture_plan.document)


def test_a_broken_graph_is_detected():
    assert not is_mermaid_flowchart("flowchart LR\n  subgraph a[\"x\"]\n  r0 --> r1\n")


def test_plan_graph_option_prints_mermaid_after_the_summary(tmp_path, capsys):
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--out", str(tmp_path / "p.json"), "--graph", "resources"]) == 0
    out = capsys.readouterr().out
    assert out.index("Policy pack") < out.index("flowchart LR")
    assert is_mermaid_flowchart(out[out.index("flowchart LR"):])


def test_plan_graph_out_writes_the_source(tmp_path):
    graph = tmp_path / "graph.mmd"
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--out", str(tmp_path / "p.json"), "--quiet",
                 "--graph", "resources", "--graph-out", str(graph)]) == 0
    assert is_mermaid_flowchart(graph.read_text())


def test_diff_markdown_includes_the_graph_collapsed(tmp_path, capsys):
    out = tmp_path / "p.json"
    assert main(["plan", "fixture", *FIXTURE_ARGS, "--out", str(out), "--quiet"]) == 0
    assert main(["diff", str(out), str(out), "--format", "markdown", "--graph"]) == 0
    markdown = capsys.readouterr().out
    assert "<details><summary>Resource graph (head)</summary>\n\n```mermaid\nflowchart LR\n" in markdown
    block = markdown.split("<summary>Resource graph (head)</summary>\n\n```mermaid\n")[1].split("```")[0]
    assert is_mermaid_flowchart(block)
