"""A Mermaid picture of a plan: regions, the components in each, their key resources, and how
those depend on each other (GitHub renders ```mermaid blocks in PR comments).

Only the resources a DR reviewer reasons about are drawn (clusters, node groups, buckets and
their replication, serving Deployments, load balancers and their web ACLs, health checks, DNS
records, failover controls); every component box ends with a count of the rest, so nothing is hidden silently.
Edges follow the plan's `dependencies` (which resource an input came from), contracted to the
drawn resources.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

KEY_TYPES: dict[str, tuple[str, str]] = {  # type -> (label, Mermaid shape: box or cylinder)
    "aws:eks/cluster:Cluster": ("EKS cluster", "box"),
    "aws:eks/nodeGroup:NodeGroup": ("node group", "box"),
    "aws:s3/bucket:Bucket": ("S3 bucket", "cylinder"),
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": ("replication", "box"),
    "kubernetes:apps/v1:Deployment": ("Deployment", "box"),
    "kubernetes:core/v1:Service": ("Service", "box"),
    "aws:lb/loadBalancer:LoadBalancer": ("load balancer", "box"),
    "aws:wafv2/webAcl:WebAcl": ("web ACL", "box"),
    "aws:route53/healthCheck:HealthCheck": ("health check", "box"),
    "aws:route53/record:Record": ("DNS record", "box"),
    "aws:route53/zone:Zone": ("hosted zone", "box"),
    "aws:route53recoverycontrol/cluster:Cluster": ("ARC cluster", "box"),
    "aws:route53recoverycontrol/routingControl:RoutingControl": ("routing control", "box"),
    "aws:arcregionswitch/plan:Plan": ("Region switch plan", "box"),
}


def _label(text: str) -> str:
    return text.replace('"', "#quot;")


def _kind(type_token: str) -> str:
    return type_token.rsplit(":", 1)[-1]


def mermaid(document: dict[str, Any]) -> str:
    """Mermaid `flowchart` source for the plan `document` (deterministic)."""
    from recsys_dr.review.estimate import region_roles

    resources = document.get("resources") or []
    by_urn = {r["urn"]: r for r in resources}
    roles = region_roles(document)
    ids: dict[str, str] = {}
    for resource in resources:
        if resource.get("custom", True) and resource["type"] in KEY_TYPES:
            if resource["type"] != "kubernetes:core/v1:Service" or \
                    ((resource.get("inputs") or {}).get("spec") or {}).get("type") == "LoadBalancer":
                ids[resource["urn"]] = f"r{len(ids)}"

    # region -> component urn -> [resource urn]; `others` counts what is not drawn.
    groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    others: dict[tuple[str, str], int] = defaultdict(int)
    for resource in resources:
        if not resource.get("custom", True) or resource["type"].startswith("pulumi:providers:"):
            continue
        region, parent = resource.get("region", "global"), resource.get("parent", "")
        if resource["urn"] in ids:
            groups[region][parent].append(resource["urn"])
        else:
            others[(region, parent)] += 1
            groups[region].setdefault(parent, [])

    def region_title(region: str) -> str:
        return f"{region} ({roles[region]})" if region in roles else region

    order = sorted(groups, key=lambda r: ({"primary": 0, "standby": 1}.get(roles.get(r, ""), 2), r == "global", r))
    lines = ["flowchart LR"]
    for g, region in enumerate(order):
        lines.append(f'  subgraph g{g}["{_label(region_title(region))}"]')
        for c, parent in enumerate(sorted(groups[region])):
            component = by_urn.get(parent)
            title = f"{_kind(component['type'])} {component['name']}" if component else "stack"
            lines.append(f'    subgraph g{g}c{c}["{_label(title)}"]')
            for urn in groups[region][parent]:
                resource = by_urn[urn]
                label, shape = KEY_TYPES[resource["type"]]
                text = _label(f"{label}<br/>{resource['name']}")
                lines.append(f'      {ids[urn]}[("{text}")]' if shape == "cylinder" else f'      {ids[urn]}["{text}"]')
            if others.get((region, parent)):
                lines.append(f'      g{g}c{c}more["+{others[(region, parent)]} more resources"]')
            lines.append("    end")
        lines.append("  end")

    edges: set[tuple[str, str]] = set()
    for urn, node in ids.items():
        for deps in (by_urn[urn].get("dependencies") or {}).values():
            for dep in deps:
                if dep in ids and dep != urn:
                    edges.add((ids[dep], node))
    for source, target in sorted(edges, key=lambda e: (int(e[0][1:]), int(e[1][1:]))):
        lines.append(f"  {source} --> {target}")
    return "\n".join(lines) + "\n"


def is_mermaid_flowchart(text: str) -> bool:
    """A cheap structural check: header, balanced subgraphs, edges between declared nodes."""
    lines = text.splitlines()
    if not lines or lines[0] != "flowchart LR":
        return False
    depth, declared = 0, set()
    for line in lines[1:]:
        stripped = line.strip()
        if stripped.startswith("subgraph "):
            depth += 1
        elif stripped == "end":
            depth -= 1
            if depth < 0:
                return False
        elif "-->" in stripped:
            a, b = (part.strip() for part in stripped.split("-->"))
            if a not in declared or b not in declared:
                return False
        else:
            match = re.match(r"^([A-Za-z0-9]+)[\[(]", stripped)
            if not match:
                return False
            declared.add(match.group(1))
    return depth == 0
