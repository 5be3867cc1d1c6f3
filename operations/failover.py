"""`recsys-dr failover --to standby|primary [--force] [--dry-run]`.

With `failoverControl: arc` it flips the Route 53 ARC routing controls through the
cluster's data-plane endpoints (trying each in turn): target On and the other Off in one
atomic call, so both are never Off. It first runs the status checks on the *target
region's own resources* (its bucket copy of the pinned version, its health check, its
serving endpoint, its GPU pool; plus the DNS records) and refuses when they fail, unless
`--force` (e.g. the checks cannot reach S3 in the target region but you know it serves).
Nothing is asked of the other region, so a region that is down costs no timeouts.

With `failoverControl: health-check` there is nothing this command may flip: DNS fails
over on its own when the primary's Route 53 health check fails, and fails back when it
passes again. The command then reports the target's readiness and where Route 53 answers
now, and prints the documented manual override (inverting the primary's health check),
with the IDs filled in. It changes nothing and exits 3.

Exit codes: 0 switched (or already there, or a dry run that would proceed); 1 refused,
the target failed its checks (use --force); 2 bad input; 3 not possible without ARC;
4 the ARC data plane refused or no cluster endpoint answered.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from recsys_dr.operations.outputs import StackOutputs, endpoint_host
from recsys_dr.operations.verdict import print_verdict

if TYPE_CHECKING:
    from recsys_dr.operations.status import StatusReport

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_BAD_INPUT = 2
EXIT_NO_ARC = 3
EXIT_ARC_FAILED = 4


@dataclass
class FailoverResult:
    exit_code: int
    outcome: str  # switched | already | dry-run | refused | no-arc | arc-failed
    target: str
    forced: bool = False
    dry_run: bool = False
    before: dict | None = None
    after: dict | None = None
    change: list[dict] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    status: dict | None = None
    arc_attempts: list[dict] = field(default_factory=list)
    dns_answer: dict | None = None
    activation: dict | None = None
    execution: dict | None = None
    restored: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "outcome": self.outcome,
            "exitCode": self.exit_code,
            "target": self.target,
            "forced": self.forced,
            "dryRun": self.dry_run,
            "before": self.before,
            "after": self.after,
            "change": self.change,
            "reasons": self.reasons,
            "messages": self.messages,
            "arcAttempts": self.arc_attempts,
            "dnsAnswer": self.dns_answer,
            "activation": self.activation,
            "regionSwitchExecution": self.execution,
            "restored": self.restored,
            "status": self.status,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)


def resolve_addresses(host: str) -> set[str]:
    """The IPv4 addresses `host` resolves to now (a load balancer's DNS name)."""
    import socket

    try:
        return {info[4][0] for info in socket.getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)}
    except OSError:
        return set()


def dns_answer(outputs: StackOutputs, route53: Any, *, resolve: Callable[[str], set[str]] = resolve_addresses) -> dict:
    """Route 53's authoritative answer for the record now (`TestDNSAnswer`), and which role it is.

    Failover records that alias the front doors (type A) are answered with the balancer's
    addresses, not its name (Route 53 resolves an alias itself, Route 53 Developer Guide "Choosing
    between alias and non-alias records"): the role is the region whose balancer name resolves to
    those addresses. Records of a stack without a front door are CNAMEs of the endpoint names.

    Returns:
        {"records": [...], "role": "primary" | "standby" | "fallback" | None, "responseCode": ...}
    """
    aliased = any(region.front_door is not None for region in outputs.regions.values())
    resp = route53.test_dns_answer(HostedZoneId=outputs.dns.zone_id, RecordName=outputs.dns.record_name.rstrip("."),
                                   RecordType="A" if aliased else "CNAME")
    records = [v.rstrip(".").lower() for v in resp.get("RecordData", [])]
    role = None
    tiers = {**{name: region.endpoint for name, region in outputs.regions.items()},
             **({"fallback": outputs.fallback.endpoint} if outputs.fallback is not None else {})}
    for name, endpoint in tiers.items():
        host = endpoint_host(endpoint)
        if host in records or (aliased and set(records) & resolve(host)):
            role = name
    return {"records": records, "role": role, "responseCode": resp.get("ResponseCode")}


def manual_instructions(outputs: StackOutputs, target: str) -> list[str]:
    """What an operator can do by hand when the environment has no ARC routing controls."""
    p, s = outputs.primary, outputs.standby
    budget = f"{outputs.failover_budget_seconds:g}s"
    lines = [
        f"failoverControl is 'health-check' in {outputs.environment}: there are no routing controls, so "
        "recsys-dr cannot move traffic itself.",
        f"What happens on its own: Route 53 answers the SECONDARY record ({s.region}) when the primary's "
        f"health check {p.health_check_id} fails (within about {budget}), and the PRIMARY again when it "
        "passes; the standby is only answered while its own health check passes.",
    ]
    if target == "standby":
        lines += [
            "To force traffic to the standby while the primary still passes its check (documented manual step):",
            f"  aws route53 update-health-check --health-check-id {p.health_check_id} --inverted",
            "  (Route 53 then treats the primary as unhealthy; expect the switch within the budget above.)",
            "Undo it (fail back) with:",
            f"  aws route53 update-health-check --health-check-id {p.health_check_id} --no-inverted",
            "Do not *disable* the primary's check: Route 53 treats a disabled check as healthy, which pins "
            "traffic to the primary.",
            "The inversion is drift from the Pulumi state; `pulumi up` does not revert it without "
            "`pulumi refresh`. Revert it by hand and note it in the incident log.",
        ]
    else:
        lines += [
            "To fail back: make sure the primary's check is not inverted, then traffic returns on its own once "
            "the primary passes:",
            f"  aws route53 update-health-check --health-check-id {p.health_check_id} --no-inverted",
            "If the standby's check is failing while the primary is healthy, nothing needs doing: the PRIMARY "
            "record wins whenever its check passes.",
        ]
    lines.append("To rehearse this path with automatic restore, use `recsys-dr drill --via-health-check-inversion`.")
    lines.append("For operator-controlled failover without touching health checks, set failoverControl: arc "
                 "(ARC routing controls, billed per cluster-hour) or region-switch (a Region switch plan, billed "
                 "per plan-month); see the runbook.")
    return lines


ACTIVATION_FIXES = ("serving", "targets", "capacity", "health")
"""Checks on the standby that activation itself makes pass (pods and their targets, GPU nodes, its health check)."""
TRAFFIC_CONTROLS = ("arc.routing", "arc.plan")
"""Checks of what moves traffic: the move itself reads them again and fails with exit 4, not a refusal."""


def gate_reasons(report: StatusReport, *, activation: bool = False) -> list[str]:
    """The messages of the blocking results that refuse a failover (exit 1).

    Args:
        report: StatusReport of the target.
        activation: bool, also ignore what activating the standby fixes. Default False.
    """
    return [r.message for r in report.blocking(ignore=TRAFFIC_CONTROLS + (ACTIVATION_FIXES if activation else ()))]


def run_failover(
    outputs: StackOutputs,
    *,
    target: str,
    force: bool = False,
    dry_run: bool = False,
    build_status: Callable[[str], Any],
    arc_controller: Any = None,
    route53: Any = None,
    log: Callable[[str], None] = lambda _m: None,
    activator: Any = None,
    region_switch: Any = None,
    ungraceful: bool = False,
    execution_timeout: float = 3600.0,
    poll_interval: float = 15.0,
) -> FailoverResult:
    """Decide and (unless dry-run) perform a failover to `target`.

    Args:
        outputs: StackOutputs.
        target: str, "standby" or "primary".
        force: bool, proceed although the target fails its checks. Default False.
        dry_run: bool, check and print the planned change, change nothing. Default False.
        build_status: callable(target) -> StatusReport for the target region.
        arc_controller: ArcController, required when failoverControl is "arc".
        route53: boto3 Route 53 client for the current DNS answer (optional).
        log: callable(str) for progress lines.
    """
    result = FailoverResult(exit_code=EXIT_OK, outcome="switched", target=target, forced=force, dry_run=dry_run)
    report = build_status(target)
    result.status = report.to_dict()
    result.reasons = gate_reasons(report)
    if route53 is not None:
        result.dns_answer = _dns(outputs, route53)

    if outputs.failover_control == "region-switch" and region_switch is not None:
        return _run_region_switch(outputs, result, report, target=target, region_switch=region_switch,
                                  activator=activator, ungraceful=ungraceful, timeout=execution_timeout,
                                  poll_interval=poll_interval, log=log)
    if activator is not None and target == "standby" and \
            not _activate_standby(outputs, result, report, activator, build_status=build_status, route53=route53, log=log):
        return result
    if outputs.failover_control != "arc" or arc_controller is None:
        return _without_arc(outputs, result, activator, log)
    return _run_arc(outputs, result, arc_controller, activator, log)


def _activate_standby(outputs: StackOutputs, result: FailoverResult, report: StatusReport, activator: Any, *,
                      build_status: Callable[[str], Any], route53: Any, log) -> bool:
    """Activate (or, in a dry run, size) the standby before traffic moves, then check it again; False
    when failover stops here (it fails checks activation cannot fix, or activation failed)."""
    gate = gate_reasons(report, activation=True)
    if gate and not result.forced:
        result.outcome, result.exit_code = "refused", EXIT_REFUSED
        result.reasons = gate
        result.messages.append("refusing to activate the standby: it fails checks activation cannot fix "
                               "(listed above). Re-run with --force to override.")
        return False
    if not _activate(result, activator, dry_run=result.dry_run, force=result.forced, log=log):
        return False
    if result.dry_run:  # the dry run did not activate: only what activation cannot fix counts
        result.reasons = gate
        return True
    report = build_status(result.target)  # what activation changed: pods, nodes, health check
    result.status, result.reasons = report.to_dict(), gate_reasons(report)
    if route53 is not None:
        result.dns_answer = _dns(outputs, route53)
    return True


def _without_arc(outputs: StackOutputs, result: FailoverResult, activator: Any, log) -> FailoverResult:
    """failoverControl health-check (or no routing controls to flip): Route 53 moves traffic on its own."""
    if activator is not None and not result.dry_run:
        return _health_check_path(outputs, result, activator, result.target, log)
    result.outcome, result.exit_code = "no-arc", EXIT_NO_ARC
    result.messages += manual_instructions(outputs, result.target)  # after what a dry run would scale
    return result


def _run_arc(outputs: StackOutputs, result: FailoverResult, arc_controller: Any, activator: Any, log) -> FailoverResult:
    """failoverControl arc: the target On and the other Off in one call, unless refused, already so, or a dry run."""
    from recsys_dr.operations.arc import ArcError

    target = result.target
    if result.reasons:
        if not result.forced:
            result.outcome, result.exit_code = "refused", EXIT_REFUSED
            result.messages.append(f"refusing to fail over to the {target}: it fails its checks "
                                   "(listed above). Re-run with --force to override.")
            return result
        result.messages.append(f"--force: failing over to the {target} although it fails its checks")
        log(result.messages[-1])
    other = "primary" if target == "standby" else "standby"
    try:
        result.before = arc_controller.states()
    except ArcError as exc:
        result.outcome, result.exit_code = "arc-failed", EXIT_ARC_FAILED
        result.arc_attempts = list(arc_controller.attempts)
        result.messages.append(f"cannot read routing controls: {exc}")
        return result
    result.change = [{"role": target, "state": "On"}, {"role": other, "state": "Off"}]
    if result.before.get(target) == "On" and result.before.get(other) == "Off":
        result.outcome = "already"
        result.change = []
        result.messages.append(f"traffic already goes to the {target} ({target} On, {other} Off)")
        result.after = result.before
        result.arc_attempts = list(arc_controller.attempts)
        if target == "primary" and activator is not None and not result.dry_run:
            _restore(result, activator, log)
        return result
    if result.dry_run:
        result.outcome = "dry-run"
        result.messages.append(f"dry run: would set {target} On and {other} Off in one call "
                               f"(now: primary {result.before.get('primary')}, standby {result.before.get('standby')})")
        result.arc_attempts = list(arc_controller.attempts)
        return result
    return _flip(outputs, result, arc_controller, activator, log)


def _flip(outputs: StackOutputs, result: FailoverResult, arc_controller: Any, activator: Any, log) -> FailoverResult:
    """The one atomic routing-control update, read back; the standby put back at rest after a fail-back."""
    from recsys_dr.operations.arc import ArcError

    target = result.target
    other = "primary" if target == "standby" else "standby"
    try:
        result.after = arc_controller.activate(target)
    except ArcError as exc:
        result.outcome, result.exit_code = "arc-failed", EXIT_ARC_FAILED
        result.messages.append(f"routing controls NOT changed as requested: {exc}")
        try:
            result.after = arc_controller.states()
        except ArcError:
            result.after = None
        result.arc_attempts = list(arc_controller.attempts)
        return result
    result.arc_attempts = list(arc_controller.attempts)
    if result.after.get(target) != "On":
        result.outcome, result.exit_code = "arc-failed", EXIT_ARC_FAILED
        result.messages.append(f"after the update the {target} control reads {result.after.get(target)}")
        return result
    if target == "primary" and activator is not None:
        _restore(result, activator, log)
    result.messages.append(
        f"routing controls: {target} On, {other} {result.after.get(other)}. Route 53 answers the {target} once "
        f"the RECOVERY_CONTROL health checks update (seconds), clients after the TTL ({outputs.dns.ttl}s). "
        "Watch it with `recsys-dr status`."
    )
    return result


def _dns(outputs: StackOutputs, route53: Any) -> dict:
    try:
        return dns_answer(outputs, route53)
    except Exception as exc:  # informative only
        return {"error": f"{type(exc).__name__}: {exc}"}


def _activate(result: FailoverResult, activator: Any, *, dry_run: bool, force: bool, log) -> bool:
    """Size (dry run) or activate the standby; False when failover must stop here."""
    from recsys_dr.operations.activation import ActivationError
    from recsys_dr.operations.kube import KubeError

    try:
        if dry_run:
            sizing = activator.size()
            result.activation = {"dryRun": True, "replicas": sizing.replicas, "source": sizing.source,
                                 "nodeGroup": sizing.node_group, "hpa": sizing.hpa, "notes": sizing.notes}
            result.messages.append(f"dry run: would scale the standby to {sizing.replicas} pods ({sizing.source}), "
                                   f"node group {sizing.node_group}, HPA {sizing.hpa}")
            return True
        sizing = activator.activate()
        result.activation = {"replicas": sizing.replicas, "source": sizing.source, "nodeGroup": sizing.node_group,
                             "hpa": sizing.hpa, "notes": sizing.notes, "changes": list(activator.changes),
                             "phases": [p.to_dict() for p in activator.phases]}
        return True
    except (ActivationError, KubeError) as exc:
        result.activation = {"error": str(exc), "changes": list(activator.changes),
                             "phases": [p.to_dict() for p in activator.phases]}
        if force:
            result.messages.append(f"--force: activation incomplete ({exc}); moving traffic anyway")
            log(result.messages[-1])
            return True
        result.outcome, result.exit_code = "refused", EXIT_REFUSED
        result.reasons = [f"activation: {exc}"]
        result.messages.append("traffic NOT moved: the standby did not become ready. Changes made so far: "
                               + ("; ".join(activator.changes) or "none")
                               + ". Re-run (it resumes), or --force to move traffic anyway.")
        return False


def _restore(result: FailoverResult, activator: Any, log) -> None:
    from recsys_dr.operations.activation import ActivationError
    from recsys_dr.operations.kube import KubeError

    try:
        result.restored = activator.restore()
        result.messages.append("standby back at rest: " + "; ".join(result.restored))
    except (ActivationError, KubeError) as exc:
        result.messages.append(f"traffic is on the primary, but the standby was NOT put back at rest: {exc}. "
                               "Re-run `recsys-dr failover --to primary` (it only restores).")
    except Exception as exc:  # botocore errors from the standby's EKS API
        result.messages.append(f"traffic is on the primary, but the standby was NOT put back at rest: "
                               f"{type(exc).__name__}: {exc}. Re-run `recsys-dr failover --to primary`.")


def _health_check_path(outputs: StackOutputs, result: FailoverResult, activator: Any, target: str, log):
    """failoverControl health-check with an activator: Route 53 moves traffic on its own; say where it is."""
    answer = result.dns_answer or {}
    if target == "standby":
        if answer.get("role") == "standby":
            result.outcome = "switched"
            result.messages.append("standby activated; Route 53 already answers the standby (the primary's health "
                                   "check fails)")
            return result
        result.outcome, result.exit_code = "no-arc", EXIT_NO_ARC
        result.messages.append("standby activated and ready: Route 53 moves traffic to it as soon as the primary's "
                               "health check fails.")
        result.messages += manual_instructions(outputs, target)
        return result
    if answer.get("role") != "primary":
        result.outcome, result.exit_code = "no-arc", EXIT_NO_ARC
        result.messages.append("Route 53 does not answer the primary yet; the standby stays activated until it "
                               "does (re-run then).")
        result.messages += manual_instructions(outputs, target)
        return result
    result.outcome = "already"
    _restore(result, activator, log)
    return result


def _run_region_switch(outputs: StackOutputs, result: FailoverResult, report: Any, *, target: str, region_switch: Any,
                       activator: Any, ungraceful: bool, timeout: float, poll_interval: float, log) -> FailoverResult:
    """failoverControl region-switch: the plan scales the standby (EKS block) and moves traffic."""
    from recsys_dr.operations.arc import ArcError

    region = outputs.regions[target].region
    try:
        evaluation = region_switch.evaluation(region)
    except ArcError as exc:
        evaluation = {"state": "unknown", "error": str(exc), "warnings": []}
        if exc.definitive:
            result.outcome, result.exit_code = "arc-failed", EXIT_ARC_FAILED
            result.messages.append(f"cannot read the Region switch plan: {exc}")
            return result
    result.execution = {"evaluation": evaluation}
    if evaluation["state"] not in ("passed", "unknown"):
        result.messages.append(f"plan evaluation is {evaluation['state']}: " + "; ".join(evaluation["warnings"]))
    if result.dry_run:
        result.outcome = "dry-run"
        result.messages.append(f"dry run: would start the Region switch plan to activate {region} "
                               f"({'ungraceful' if ungraceful else 'graceful'})")
        return result
    gate = gate_reasons(report, activation=True)
    if gate and not result.forced:
        result.outcome, result.exit_code = "refused", EXIT_REFUSED
        result.reasons = gate
        result.messages.append(f"refusing to activate {region}: it fails checks the plan cannot fix (listed above). "
                               "Re-run with --force to override.")
        return result
    try:
        execution_id, where = region_switch.start(region, ungraceful=ungraceful,
                                                  comment=f"recsys-dr failover --to {target} ({outputs.environment})")
        log(f"Region switch execution {execution_id} started in {where}; following its events")
        execution = region_switch.follow(execution_id, where, timeout=timeout, poll_interval=poll_interval)
    except ArcError as exc:
        result.outcome, result.exit_code = "arc-failed", EXIT_ARC_FAILED
        result.messages.append(f"Region switch execution NOT confirmed: {exc}")
        result.arc_attempts = list(region_switch.attempts)
        return result
    result.execution.update(execution.to_dict())
    result.arc_attempts = list(region_switch.attempts)
    if not execution.succeeded:
        from recsys_dr.operations.region_switch import FAILED

        ended = execution.state in FAILED
        # A plan that ran and failed is a refusal (1); one still running at our bound is not confirmed (4).
        result.outcome, result.exit_code = ("refused", EXIT_REFUSED) if ended else ("arc-failed", EXIT_ARC_FAILED)
        result.messages.append(f"Region switch execution {execution_id} is {execution.state} after "
                               f"{execution.seconds:g}s; see its events above")
        return result
    result.messages.append(f"Region switch execution {execution_id} {execution.state} in {execution.seconds:g}s"
                           + (f" (recovery time {execution.actual_recovery_time})" if execution.actual_recovery_time
                              else ""))
    if target == "primary" and activator is not None:
        _restore(result, activator, log)
    return result


def render(result: FailoverResult, console=None) -> None:
    from rich.console import Console

    console = console or Console()
    if result.dns_answer:
        if "error" in result.dns_answer:
            console.print(f"Route 53 answer: unknown ({result.dns_answer['error']})", markup=False)
        else:
            console.print(f"Route 53 answers now: {', '.join(result.dns_answer['records']) or '-'} "
                          f"({result.dns_answer['role'] or 'unknown region'})", markup=False)
    act = result.activation or {}
    if act.get("replicas") and not act.get("dryRun"):
        console.print(f"standby activated: {act['replicas']} pods ({act['source']}), node group "
                      + "/".join(str(act["nodeGroup"][k]) for k in ("minSize", "desiredSize", "maxSize"))
                      + " (min/desired/max)", markup=False, highlight=False)
    if act.get("error"):
        console.print(f"standby activation failed: {act['error']}", markup=False, highlight=False, soft_wrap=True)
    for phase in act.get("phases", []):
        console.print(f"  {phase['phase']}: {'-' if phase['seconds'] is None else format(phase['seconds'], 'g') + 's'}"
                      f"{'' if phase['ok'] else ' NOT DONE'} ({phase['detail']})", markup=False, highlight=False)
    if result.execution and result.execution.get("executionId"):
        console.print(f"Region switch execution {result.execution['executionId']}: {result.execution['state']}",
                      markup=False, highlight=False)
    if result.before:
        console.print("routing controls before: " + ", ".join(f"{k} {v}" for k, v in result.before.items()))
    for attempt in result.arc_attempts:
        if attempt.get("error"):
            console.print(f"  ARC {attempt['operation']} via {attempt['endpoint']} failed: {attempt['error']}",
                          markup=False, highlight=False)
    if result.after and result.after is not result.before:
        console.print("routing controls after:  " + ", ".join(f"{k} {v}" for k, v in result.after.items()))
    print_verdict(console, result.outcome, result.exit_code, messages=result.messages,
                  style={"switched": "bold green", "already": "green", "dry-run": "cyan"}.get(result.outcome, "bold red"))
