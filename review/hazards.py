"""DR hazards of a change: what a reviewer of a two-region DR setup must not miss.

Each hazard is `{"kind", "severity" (high | medium), "message", "resources": [urn, ...]}`:

* `both-regions`: the clusters, GPU node groups, serving Deployments or model buckets of both
  regions are replaced, deleted or updated in one change, so no region is left untouched to
  fail over to if the rollout goes wrong (and, where a replacement deletes first, neither
  region serves during it);
* `failover-budget-up`, `rto-up`: a larger DNS failover budget or recovery time;
* `standby-capacity-down`: the standby holds fewer GPUs relative to the primary;
* `replication-off`, `rtc-off`, `versioning-off`: replication removed or disabled, its time
  control (the RPO's SLA) disabled, or bucket versioning suspended or removed;
* `cost-up`, `cost-down`: the monthly estimate moves by more than COST_THRESHOLD;
* `region-outage`: in one region, a cluster, GPU node group or serving Deployment is replaced
  deleting first (or deleted), so that region stops serving during the rollout and the other
  must carry the traffic (high when that is a pilot-light standby or the standby itself);
* `protected`: a resource with the `protect` option would be replaced or deleted, which the
  engine refuses (the whole `pulumi up` fails) until protection is lifted in a separate change;
* `endpoint-moves`: a region's serving endpoint moves to a new load balancer (for example from
  a `type: LoadBalancer` Service's NLB to the Application Load Balancer of the front door): its
  hostname changes and the old balancer is deleted by the same update;
* `release-both-regions`, `release-every-tier`, `candidate-removed`: the model pin, serving image or
  serving settings of both regions' stable pods move in one change (and the fallback's pin with
  them); a candidate is removed (`review.releases`).
* `fallback-off`, `fallback-budget-up`: the CPU fallback tier is removed (recommendations go blank
  while both GPU tiers are down), or DNS takes longer to reach it;
* `capacity-unguaranteed`: a pilot-light standby loses its capacity reservation (or a reserved
  standby becomes a pilot light without one): its recovery waits for instances again.
"""

from __future__ import annotations

from typing import Any

from recsys_dr.review.estimate import (
    BUCKET,
    CLUSTER,
    LOAD_BALANCER,
    REPLICATION,
    SERVICE,
    is_gpu_node_group,
    region_roles,
    usd,
)
from recsys_dr.review.unknowns import DELETE_FIRST

COST_THRESHOLD = 0.10
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
VERSIONING = "aws:s3/bucketVersioning:BucketVersioning"


def serves_on_gpu(resource: dict[str, Any]) -> bool:
    """A Deployment whose pods ask for an NVIDIA GPU: the model server."""
    if resource.get("type") != DEPLOYMENT:
        return False
    pod = (((resource.get("inputs") or {}).get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in pod.get("containers") or []:
        resources = container.get("resources") or {}
        if any("nvidia.com/gpu" in (resources.get(k) or {}) for k in ("limits", "requests")):
            return True
    return False


def serves_stable(resource: dict[str, Any]) -> bool:
    """The stable pods' model server (a candidate's is added and removed by releases)."""
    from recsys_dr.review.releases import is_candidate_slot

    return serves_on_gpu(resource) and not is_candidate_slot(resource)


KINDS = (
    ("EKS clusters", lambda r: r.get("type") == CLUSTER),
    ("GPU node groups", is_gpu_node_group),
    ("serving Deployments", serves_stable),
    ("model buckets", lambda r: r.get("type") == BUCKET),
)


def _hazard(kind: str, severity: str, message: str, resources: list[str] | None = None) -> dict[str, Any]:
    return {"kind": kind, "severity": severity, "message": message, "resources": sorted(resources or [])}


def _both_regions(diff: Any, base: dict[str, Any], head: dict[str, Any]) -> list[dict[str, Any]]:
    roles = region_roles(head) or region_roles(base)
    if len(roles) < 2:
        return []
    documents = {r["urn"]: r for r in base["resources"]} | {r["urn"]: r for r in head["resources"]}
    hazards = []
    for label, matches in KINDS:
        touched = [c for c in diff.resources if c.action in ("update", "replace", "delete") and matches(documents[c.urn])]
        regions = {c.region for c in touched}
        if not set(roles) <= regions:
            continue
        actions = sorted({c.action for c in touched}, key=("delete", "replace", "update").index)
        delete_first = [c for c in touched if c.replacement == DELETE_FIRST or c.action == "delete"]
        where = ", ".join(sorted(regions))
        if delete_first and {c.region for c in delete_first} >= set(roles):
            message = (f"{label} of both regions ({where}) are {'/'.join(a + 'd' for a in actions)} in one change, "
                       "deleting first: no region keeps serving through the rollout. Change one region per pull request.")
            severity = "high"
        else:
            message = (f"{label} of both regions ({where}) are {'/'.join(a + 'd' for a in actions)} in one change: "
                       "if the rollout fails, no untouched region is left to fail over to. Change one region per pull request.")
            severity = "high" if "replace" in actions or "delete" in actions else "medium"
        hazards.append(_hazard("both-regions", severity, message, [c.urn for c in touched]))
    return hazards


def _one_region_outage(diff: Any, base: dict[str, Any], head: dict[str, Any]) -> list[dict[str, Any]]:
    roles = region_roles(head) or region_roles(base)
    if len(roles) < 2:
        return []
    documents = {r["urn"]: r for r in base["resources"]} | {r["urn"]: r for r in head["resources"]}
    serving_kinds = KINDS[:3]  # clusters, GPU node groups, serving Deployments (buckets do not serve)
    outages: dict[str, list[Any]] = {}
    for label, matches in serving_kinds:
        for change in diff.resources:
            if (change.replacement == DELETE_FIRST or change.action == "delete") and matches(documents[change.urn]):
                outages.setdefault(change.region, []).append((label, change))
    if set(roles) <= set(outages):
        return []  # both regions: reported as `both-regions`
    hazards = []
    for region, found in sorted(outages.items()):
        role = roles.get(region)
        if role is None:
            continue
        mode = diff.head_estimate.get("standbyMode")
        capacity = diff.head_estimate.get("standbyCapacityPercent")
        if role == "primary":
            carry = f"the standby ({mode}, {capacity} % of the primary's GPUs) must carry the traffic"
            severity = "high" if mode != "warm" or not capacity else "medium"
        else:
            carry = "the primary serves alone: there is no failover target until the standby is back"
            severity = "high"
        what = ", ".join(sorted({f"{label[:-1]} {c.name}" for label, c in found}))  # "GPU node groups" -> "GPU node group"
        hazards.append(_hazard("region-outage", severity,
                               f"{region} ({role}) stops serving during the rollout: {what} "
                               f"{'is' if len(found) == 1 else 'are'} deleted before the replacement exists; {carry}",
                               [c.urn for _, c in found]))
    return hazards


def _rule_states(document: dict[str, Any]) -> tuple[bool, bool]:
    """(replication enabled, RTC enabled) over the plan's replication configurations."""
    enabled = rtc = False
    for resource in document["resources"]:
        if resource.get("type") != REPLICATION:
            continue
        for rule in (resource.get("inputs") or {}).get("rules") or []:
            if rule.get("status") == "Enabled":
                enabled = True
                rtc = rtc or ((rule.get("destination") or {}).get("replicationTime") or {}).get("status") == "Enabled"
    return enabled, rtc


def _versioned_buckets(document: dict[str, Any]) -> dict[str, str]:
    """`{urn: name}` of the bucket-versioning resources that are Enabled."""
    found = {}
    for resource in document["resources"]:
        if resource.get("type") == VERSIONING:
            inputs = resource.get("inputs") or {}
            if (inputs.get("versioningConfiguration") or {}).get("status") == "Enabled":
                found[resource["urn"]] = resource["name"]
    return found


def _data_protection(base: dict[str, Any], head: dict[str, Any]) -> list[dict[str, Any]]:
    hazards = []
    (was_on, had_rtc), (is_on, has_rtc) = _rule_states(base), _rule_states(head)
    replications = [r["urn"] for r in base["resources"] if r.get("type") == REPLICATION]
    if was_on and not is_on:
        hazards.append(_hazard("replication-off", "high", "model replication to the standby is removed or disabled: "
                               "new model versions would not reach the standby region", replications))
    elif had_rtc and not has_rtc:
        hazards.append(_hazard("rtc-off", "high", "S3 Replication Time Control is disabled: replication keeps "
                               "no 15-minute SLA, so the RPO has no bound", replications))
    before, after = _versioned_buckets(base), _versioned_buckets(head)
    lost = sorted(set(before) - set(after))
    if lost:
        hazards.append(_hazard("versioning-off", "high", f"bucket versioning is suspended or removed ({', '.join(before[k] for k in lost)}): "
                               "a deleted or overwritten model version cannot be recovered, and S3 replication "
                               "requires versioning on both buckets", lost))
    return hazards


def _estimate_moves(diff: Any) -> list[dict[str, Any]]:
    b, h = diff.base_estimate, diff.head_estimate
    hazards = []
    base_rto, head_rto = b.get("rtoSeconds") or {}, h.get("rtoSeconds") or {}
    if _larger(base_rto.get("dnsBudget"), head_rto.get("dnsBudget")):
        hazards.append(_hazard("failover-budget-up", "medium",
                               f"the DNS failover budget grows: {base_rto['dnsBudget']} s -> {head_rto['dnsBudget']} s"))
    if _larger(base_rto.get("total"), head_rto.get("total")):
        hazards.append(_hazard("rto-up", "high" if head_rto["total"] >= 2 * base_rto["total"] else "medium",
                               f"the recovery time grows: RTO {base_rto['total']} s -> {head_rto['total']} s"))
    hazards += _fallback_and_capacity_moves(b, h)
    if _larger(h.get("standbyCapacityPercent"), b.get("standbyCapacityPercent")):
        hazards.append(_hazard("standby-capacity-down", "high" if h["standbyCapacityPercent"] == 0 else "medium",
                               f"the standby holds less capacity: {b['standbyCapacityPercent']} % -> "
                               f"{h['standbyCapacityPercent']} % of the primary's GPUs"))
    base_cost = (b.get("monthlyCostUsd") or {}).get("total") or 0
    head_cost = (h.get("monthlyCostUsd") or {}).get("total") or 0
    if base_cost and abs(head_cost - base_cost) > COST_THRESHOLD * base_cost:
        kind = "cost-up" if head_cost > base_cost else "cost-down"
        hazards.append(_hazard(kind, "medium", f"the monthly estimate moves {usd(head_cost - base_cost, signed=True)} "
                               f"({(head_cost - base_cost) / base_cost:+.0%}): {usd(base_cost)} -> {usd(head_cost)}"))
    return hazards


def _fallback_and_capacity_moves(b: dict[str, Any], h: dict[str, Any]) -> list[dict[str, Any]]:
    """The fallback tier and the standby's reserved capacity, from the two estimates."""
    hazards = []
    if b.get("fallbackSeconds") is not None and h.get("fallbackSeconds") is None:
        hazards.append(_hazard("fallback-off", "high", "the CPU fallback tier is removed: recommendations go blank while "
                                                       "both GPU tiers are down"))
    elif _larger(b.get("fallbackSeconds"), h.get("fallbackSeconds")):
        hazards.append(_hazard("fallback-budget-up", "medium", f"DNS takes longer to reach the fallback tier: "
                                                               f"{b['fallbackSeconds']} s -> {h['fallbackSeconds']} s"))
    base_capacity, head_capacity = (b.get("rtoSeconds") or {}).get("capacity"), (h.get("rtoSeconds") or {}).get("capacity")
    if head_capacity == "not guaranteed" and base_capacity != "not guaranteed":
        hazards.append(_hazard("capacity-unguaranteed", "high", "the pilot-light standby has no capacity reservation in this "
                                                                "change: capacity not guaranteed, its recovery waits for "
                                                                "instances during the event it exists for"))
    return hazards


def _protected(diff: Any, base: dict[str, Any], head: dict[str, Any]) -> list[dict[str, Any]]:
    """Replacing or deleting a protected resource fails the update (Pulumi `protect` option)."""
    options = {r["urn"]: r.get("options") or {} for r in base["resources"]}
    options.update({r["urn"]: r.get("options") or {} for r in head["resources"]})
    blocked = [c for c in diff.resources if c.action in ("replace", "delete") and options.get(c.urn, {}).get("protect")]
    if not blocked:
        return []
    names = ", ".join(f"{c.name} ({c.action})" for c in blocked)
    return [_hazard("protected", "high", f"protected resources would be replaced or deleted: {names}; `pulumi up` "
                    "refuses this until `protect` is lifted in a separate change", [c.urn for c in blocked])]


def _balancer_kinds(document: dict[str, Any], region: str) -> set[str]:
    """What fronts serving in `region`: "nlb-service" (a LoadBalancer Service), "alb" (aws:lb)."""
    kinds = set()
    for resource in document["resources"]:
        if resource.get("region") != region:
            continue
        if resource.get("type") == SERVICE and ((resource.get("inputs") or {}).get("spec") or {}).get("type") == "LoadBalancer":
            kinds.add("nlb-service")
        elif resource.get("type") == LOAD_BALANCER:
            kinds.add("alb")
    return kinds


def _endpoint_moves(base: dict[str, Any], head: dict[str, Any]) -> list[dict[str, Any]]:
    """A region whose LoadBalancer Service goes away while a Pulumi-made balancer appears: the
    endpoint hostname changes, and the NLB (with its hostname) is deleted by the same update."""
    roles = region_roles(head) or region_roles(base)
    moved = sorted(region for region in roles
                   if "nlb-service" in _balancer_kinds(base, region) and _balancer_kinds(head, region) == {"alb"})
    if not moved:
        return []
    https_only = all(((r.get("inputs") or {}).get("protocol")) == "HTTPS" for r in head["resources"]
                     if r.get("type") == "aws:lb/listener:Listener")
    services = [r["urn"] for r in base["resources"] if r.get("type") == SERVICE and r.get("region") in moved]
    where = ", ".join(f"{region} ({roles[region]})" for region in moved)
    message = (f"the serving endpoint of {where} moves from the Service's NLB to a new Application Load Balancer: its hostname "
               "changes (stack output regions.<role>.endpoint) and this update deletes the NLB. Clients that call the record "
               "name follow within the alias TTL (60 s); clients that call a load balancer hostname directly fail once the "
               "NLB is gone: point them at the record name before applying")
    if https_only:
        message += "; port 80 closes, so clients still using http:// must switch to https:// first"
    return [_hazard("endpoint-moves", "high", message, services)]


def _larger(before: Any, after: Any) -> bool:
    return isinstance(before, (int, float)) and isinstance(after, (int, float)) and after > before


def find_hazards(diff: Any, base: dict[str, Any], head: dict[str, Any]) -> list[dict[str, Any]]:
    """Every hazard of the change from `base` to `head`, the high ones first."""
    from recsys_dr.review.releases import release_hazards

    releases = release_hazards(diff, base, head)
    covered = {urn for h in releases for urn in h["resources"]}
    # Serving Deployments updated in both regions are said once, as the release hazard.
    both = [h for h in _both_regions(diff, base, head) if not (h["resources"] and set(h["resources"]) <= covered)]
    hazards = (both + releases + _one_region_outage(diff, base, head) + _data_protection(base, head)
               + _protected(diff, base, head) + _endpoint_moves(base, head) + _estimate_moves(diff))
    return sorted(hazards, key=lambda h: (h["severity"] != "high", h["kind"]))
