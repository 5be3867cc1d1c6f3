"""`recsys-dr release`: a candidate through the regions one at a time, gates deciding, rollback by itself.

Who moves what: the stack file pins versions (a candidate beside the stable one; `pulumi up` runs
its pods at no traffic); this tool moves the traffic, with ELB ModifyRule calls on the route
rules' weights, which Pulumi ignores after it created them. A release:

1. preflight (nothing changes): the candidate is pinned the same in every region, no other release
   of the tier is active, the shares are at rest, Route 53 answers the primary and `status` is
   green, and the candidate's offline metric is within `release.quality.maxRelativeDrop` of the
   stable version's (else `--accept-quality-drop`);
2. for each region without production traffic (the warm standby): golden requests through its
   live endpoint, sent to the candidate's pods by header, then the whole of that region's traffic
   to the candidate (a pilot-light standby runs no pods: its bucket must hold the candidate's
   verified files);
3. for the primary: golden requests, then each share of `release.canaryPercents`, each baked for
   `release.live.bakeSeconds` while the live gate compares the canary group with the stable one;
4. promotion, through the stack file: `pin-candidate` (every stable pin becomes the candidate;
   the stable pods roll while the candidate carries the traffic), then, once they run it, the
   shares go back to the stable pods, then `remove-candidate`.

A failed gate puts every share the release gave back to 0 (the failing region first), reads it
back, and prints the stack change that removes the candidate. The record (`record.py`) is the
lock and says where the release is: `advance` resumes it, `abort` rolls it back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from recsys_dr.operations.release import evidence, patch, record, signals, weights
from recsys_dr.operations.release.replay import Request, replay_golden
from recsys_dr.operations.release.report import ReleaseReport
from recsys_dr.operations.release.rollout import read_deployment, rollout_state
from recsys_dr.operations.release.tier import Tier, TierRegion

# The newest minute of ALB metrics may be partial or not yet delivered: windows end one minute back.
METRICS_DELAY = timedelta(minutes=1)


class Clock:
    """Wall time for CloudWatch windows and the report; tests and the benchmark pass a virtual one."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        import time

        time.sleep(seconds)


@dataclass
class Environment:
    """The live systems a release talks to, and how it reports."""

    tier: Tier
    settings: dict  # the stack output `release`
    clients: Any  # operations.clients.ClientFactory
    dns_role: Callable[[], str | None]  # which region Route 53 answers now
    green: Callable[[], tuple[bool, list[str]]]  # `status` green, and why not
    kube: Callable[[TierRegion], Any]
    clock: Clock = field(default_factory=Clock)
    request: Request | None = None
    http_timeout: float = 5.0
    stack_file: Path | None = None
    log: Callable[[str], None] = lambda _message: None


@dataclass(frozen=True)
class Step:
    kind: str  # files | golden | share | pin | restore | cleanup
    role: str | None = None
    percent: int | None = None
    live: bool = False  # a share step judged by the live gate

    def label(self) -> str:
        if self.kind == "share":
            return f"share {self.percent} %"
        return {"files": "candidate files", "golden": "golden requests", "pin": "pin the candidate as stable",
                "restore": "traffic back to the stable pods", "cleanup": "remove the candidate"}[self.kind]


def plan_steps(tier: Tier, settings: dict) -> list[Step]:
    steps: list[Step] = []
    for region in tier.release_order():
        if not region.runs_pods:
            steps.append(Step("files", region.role))
        elif region.takes_traffic:
            steps.append(Step("golden", region.role))
            steps += [Step("share", region.role, percent, live=True) for percent in settings["canaryPercents"]]
        else:
            steps += [Step("golden", region.role), Step("share", region.role, 100)]
    return steps + [Step("pin"), Step("restore"), Step("cleanup")]


def describe_plan(tier: Tier, settings: dict) -> list[dict]:
    live, golden = settings["live"], settings["golden"]
    versions = {r.candidate.version for r in tier.regions.values() if r.candidate}
    version = f"v{versions.pop()}" if len(versions) == 1 else "the candidate"
    rows = [{"step": "offline quality", "region": None, "bakeSeconds": None,
             "gate": f"{settings['quality']['metric']} drops at most {settings['quality']['maxRelativeDrop']:.1%}"}]
    for step in plan_steps(tier, settings):
        gate = {"files": "the region's bucket holds the candidate's files, manifest = pinned digest",
                "golden": f"status {version} AVAILABLE by header; answers = exported (scores ±{golden['scoreTolerance']:g})",
                "share": (f"errors ≤ stable + {live['maxErrorRateIncrease']:.2%}, p99 ≤ stable × {live['maxP99Ratio']:g} "
                          f"+ {live['p99SlackMs']} ms, ≥ {live['minRequests']} requests") if step.live else "no production traffic",
                "pin": "stack change: the candidate becomes the stable pin",
                "restore": "stable pods rolled out with the candidate's manifest (kubectl's rule), healthy targets",
                "cleanup": "stack change: the candidate pins removed"}[step.kind]
        region = tier.regions[step.role].region if step.role else None
        rows.append({"step": step.label(), "region": region, "role": step.role, "gate": gate,
                     "bakeSeconds": live["bakeSeconds"] if step.live else None})
    return rows


class ReleaseFailed(Exception):
    """A gate failed: roll back."""

    def __init__(self, role: str | None, detail: str):
        self.role, self.detail = role, detail
        super().__init__(detail)


class Pause(Exception):
    """Stop here without rolling back; `outcome` says why (held, waiting, refused)."""

    def __init__(self, outcome: str, detail: str, stack_patch: dict | None = None):
        self.outcome, self.detail, self.patch = outcome, detail, stack_patch
        super().__init__(detail)


class Release:
    """One run of `start`, `advance` or `abort` against one tier."""

    def __init__(self, env: Environment, report: ReleaseReport):
        self.env, self.report, self.tier, self.settings = env, report, env.tier, env.settings
        self.began = env.clock.now()
        self.store = record.ReleaseStore(env.clients.s3(self.tier.lock_region), self.tier.lock_bucket, self.tier.name)
        self.record: record.ReleaseRecord | None = None
        self.checked_traffic = False

    # -- reporting

    def elapsed(self) -> float:
        return (self.env.clock.now() - self.began).total_seconds()

    def row(self, step: str, result: str, detail: str, *, role: str | None = None, share: float | None = None,
            gate: dict | None = None) -> None:
        region = self.tier.regions[role].region if role else None
        row = self.report.add(self.elapsed(), step, result, detail, region=region, share=share, gate=gate)
        if self.record is not None:
            self.record.history.append({**row, "at": record.stamp(self.env.clock.now())})
        self.env.log(f"{step} {region or ''}: {result} {detail}")

    def save(self) -> None:
        self.record.updated_at = record.stamp(self.env.clock.now())
        self.store.save(self.record)
        self.report.release = self.record.to_dict()

    def elbv2(self, region: TierRegion) -> Any:
        return self.env.clients.elbv2(region.region)

    # -- preflight

    def candidate(self) -> dict:
        """The one candidate pinned in every region (a release moves one version)."""
        found = {(r.candidate.version, r.candidate.manifest_sha256, r.candidate.image) if r.candidate else None
                 for r in self.tier.regions.values()}
        if None in found:
            missing = [role for role, r in self.tier.regions.items() if r.candidate is None]
            raise Pause("refused", f"no candidate is pinned in {', '.join(missing)}: pin it in every region "
                                   f"(`{self.tier.candidate_key}`), `pulumi up`, re-export the outputs")
        if len(found) > 1:
            raise Pause("refused", f"the regions pin different candidates ({sorted(map(str, found))}): a release moves one")
        version, digest, image = found.pop()
        return {"version": version, "manifestSha256": digest, "image": image}

    def traffic_is_normal(self) -> None:
        """Refuse while the primary is failed over or `status` is not green (nothing changes)."""
        role = self.env.dns_role()
        if role != "primary":
            raise Pause("refused", f"Route 53 answers {role or 'no region of this stack'}, not the primary: a release "
                                   "does not start or move while traffic is failed over")
        ok, reasons = self.env.green()
        if not ok:
            raise Pause("refused", "`recsys-dr status` is not green: " + "; ".join(reasons[:3]))
        if not self.checked_traffic:  # checked before every traffic step, reported once a run
            self.checked_traffic = True
            self.row("preflight.traffic", "ok", "Route 53 answers the primary; status green")

    def shares_at_rest(self) -> None:
        for region in self.tier.release_order():
            share = weights.region_share(weights.read_shares(self.elbv2(region), region))
            self.report.shares[region.role] = share
            if share != 0:
                raise Pause("refused", f"{region.region}: the candidate already has {share if share is not None else 'a mixed'} "
                                       "% of the traffic with no release active: `recsys-dr release abort` first")

    def quality(self, candidate: dict, accept: bool) -> bool:
        """The offline-quality gate; True when within the threshold, False when accepted anyway."""
        primary = self.tier.regions["primary"] if "primary" in self.tier.regions else self.tier.release_order()[-1]
        s3 = self.env.clients.s3(primary.region)
        quality = self.settings["quality"]
        try:
            stable_manifest = evidence.read_manifest(s3, primary.bucket, self.tier.bucket_model_name, primary.stable)
            candidate_manifest = evidence.read_manifest(s3, primary.bucket, self.tier.bucket_model_name, primary.candidate)
        except evidence.EvidenceError as exc:
            raise Pause("refused", str(exc)) from None
        verdict = evidence.judge_quality(stable_manifest, candidate_manifest, metric=quality["metric"],
                                         max_relative_drop=quality["maxRelativeDrop"])
        gate = {"gate": "quality", **verdict.data}
        if verdict.ok:
            self.row("gate.quality", "ok", verdict.detail, gate=gate)
        elif accept:
            self.row("gate.quality", "ok", verdict.detail + ": accepted (--accept-quality-drop)", gate={**gate, "accepted": True})
        else:
            self.row("gate.quality", "FAIL", verdict.detail, gate=gate)
            raise Pause("refused", f"offline quality: {verdict.detail}; pass --accept-quality-drop to release it anyway")
        return verdict.ok

    # -- the steps

    def run_step(self, step: Step) -> None:
        region = self.tier.regions[step.role] if step.role else None
        {"files": self.step_files, "golden": self.step_golden, "share": self.step_share, "pin": self.step_pin,
         "restore": self.step_restore, "cleanup": self.step_cleanup}[step.kind](step, region)

    def step_files(self, step: Step, region: TierRegion) -> None:
        s3 = self.env.clients.s3(region.region)
        try:
            evidence.read_golden(s3, region.bucket, self.tier.bucket_model_name, region.candidate)
        except evidence.EvidenceError as exc:
            raise ReleaseFailed(region.role, str(exc)) from None
        self.row("files", "ok", f"s3://{region.bucket} holds v{region.candidate.version} as pinned (no pods run here: "
                                "its pin moves with the promotion)", role=region.role)

    def step_golden(self, step: Step, region: TierRegion) -> None:
        s3 = self.env.clients.s3(region.region)
        try:
            document = evidence.read_golden(s3, region.bucket, self.tier.bucket_model_name, region.candidate)
        except evidence.EvidenceError as exc:
            raise ReleaseFailed(region.role, str(exc)) from None
        kwargs = {"request": self.env.request} if self.env.request else {}
        verdict = replay_golden(region, self.tier.model_name, document, tolerance=self.settings["golden"]["scoreTolerance"],
                                server_name=self.tier.server_name, timeout=self.env.http_timeout, **kwargs)
        self.row("gate.golden", "ok" if verdict.ok else "FAIL", verdict.detail, role=region.role, share=0,
                 gate={"gate": "golden", **verdict.data})
        if not verdict.ok:
            raise ReleaseFailed(region.role, f"golden requests in {region.region}: {verdict.detail}")

    def move(self, region: TierRegion, percent: int) -> None:
        weights.set_share(self.elbv2(region), region, percent)
        self.record.shares[region.role] = percent
        self.save()

    def step_share(self, step: Step, region: TierRegion) -> None:
        if step.live and self.record.baseline is None:
            self.record.baseline = self.baseline(region)
        self.move(region, step.percent)
        moved = self.env.clock.now()
        if not step.live:
            self.row(step.label(), "ok", f"the candidate takes all of {region.region}'s traffic (none until a failover)",
                     role=region.role, share=step.percent)
            return
        self.row(step.label(), "ok", f"baking {self.settings['live']['bakeSeconds']} s", role=region.role, share=step.percent)
        self.bake(region, step, moved)

    def baseline(self, region: TierRegion) -> dict:
        """The stable group's signals over the bake window before the first share: the reference at
        shares where the stable group serves too little to compare with."""
        now = self.env.clock.now()
        window = signals.whole_minutes(now - timedelta(seconds=self.settings["live"]["bakeSeconds"]), now)
        if window is None:
            return {}
        found = signals.read_groups(self.env.clients.cloudwatch(region.region), region, window)["stable"]
        return found.to_dict()

    def bake(self, region: TierRegion, step: Step, moved: datetime) -> None:
        live = self.settings["live"]
        deadline = moved + timedelta(seconds=live["bakeSeconds"])
        verdict = None
        while True:
            now = self.env.clock.now()
            if now < deadline:
                self.env.clock.sleep(min(live["checkIntervalSeconds"], (deadline - now).total_seconds()))
            verdict = self.judge(region, moved)
            if verdict is not None and verdict.ok is False:
                self.row("gate.live", "FAIL", verdict.detail, role=region.role, share=step.percent,
                         gate={"gate": "live", **verdict.data})
                raise ReleaseFailed(region.role, f"live signals in {region.region} at {step.percent} %: {verdict.detail}")
            if self.env.clock.now() >= deadline:
                break
        if verdict is None or verdict.ok is None:
            detail = verdict.detail if verdict else "no complete minute of metrics yet"
            self.row("gate.live", "hold", detail, role=region.role, share=step.percent,
                     gate={"gate": "live", **(verdict.data if verdict else {})})
            raise Pause("held", f"{region.region} at {step.percent} %: {detail}; the share stays, `recsys-dr release "
                                "advance` bakes it again, `recsys-dr release abort` rolls back")
        self.row("gate.live", "ok", verdict.detail, role=region.role, share=step.percent, gate={"gate": "live", **verdict.data})

    def judge(self, region: TierRegion, moved: datetime) -> signals.Verdict | None:
        window = signals.whole_minutes(moved, self.env.clock.now() - METRICS_DELAY)
        if window is None:
            return None
        found = signals.read_groups(self.env.clients.cloudwatch(region.region), region, window)
        live = self.settings["live"]
        stable = found["stable"]
        if stable.requests >= max(live["minRequests"], 1):
            return signals.judge(found["canary"], stable, live, reference_name="stable")
        base = self.record.baseline or {}
        reference = signals.GroupSignal(base.get("requests") or 0, base.get("errors") or 0,
                                        None if base.get("p99Ms") is None else base["p99Ms"] / 1000)
        return signals.judge(found["canary"], reference, live, reference_name="the stable baseline")

    def step_pin(self, step: Step, region: None) -> None:
        cand = self.record.candidate
        behind = [role for role, r in self.tier.regions.items()
                  if (r.stable.version, r.stable.manifest_sha256) != (cand["version"], cand["manifestSha256"])]
        if behind:
            self.record.state = "awaiting-stable-pin"
            self.save()
            raise Pause("waiting", f"the stable pin of {', '.join(behind)} is not v{cand['version']} yet",
                        patch.pin_candidate(self.tier, cand, stack_file=self.env.stack_file))
        self.record.state = "running"
        self.row(step.label(), "ok", f"every region pins v{cand['version']} as stable")

    def step_restore(self, step: Step, region: None) -> None:
        cand = self.record.candidate
        for each in self.tier.release_order():
            if each.runs_pods:
                rolled, detail = rollout_state(read_deployment(self.env.kube(each), each.namespace, each.deployment_name),
                                               cand["manifestSha256"])
                if not rolled:
                    raise Pause("held", f"{each.region}: the stable Deployment {each.deployment_name}: {detail}; advance again")
                healthy = self.healthy_targets(each)
                if healthy < 1:
                    raise Pause("held", f"{each.region}: no healthy target in the stable target group yet; advance again")
                self.move(each, 0)
                detail += f"; {healthy} healthy target(s)"
            self.row(step.label(), "ok", detail if each.runs_pods else "no pods (pilot light)", role=each.role, share=0)

    def healthy_targets(self, region: TierRegion) -> int:
        answer = self.elbv2(region).describe_target_health(TargetGroupArn=region.stable_group_arn)
        return sum(1 for d in answer["TargetHealthDescriptions"] if (d.get("TargetHealth") or {}).get("State") == "healthy")

    def step_cleanup(self, step: Step, region: None) -> None:
        pinned = [role for role, r in self.tier.regions.items() if r.candidate is not None]
        if pinned:
            self.record.state = "awaiting-candidate-removal"
            self.save()
            raise Pause("waiting", f"{', '.join(pinned)} still pin the candidate", patch.remove_candidate(
                self.tier, stack_file=self.env.stack_file,
                reason=f"Finish: remove the candidate pins (the stable pods serve v{self.record.candidate['version']} and "
                       "carry all the traffic), `pulumi up`, re-export the outputs, then `recsys-dr release advance`:"))
        self.record.state = "promoted"
        self.row(step.label(), "ok", f"v{self.record.candidate['version']} is every region's stable pin; no candidate left")

    # -- rollback

    def rollback(self, failing: str | None, reason: str, *, final_state: str) -> None:
        """Every share back to 0, the failing region first, each read back."""
        order = sorted(self.tier.release_order(), key=lambda r: r.role != failing)
        unconfirmed = []
        for region in order:
            if not region.runs_pods:
                continue
            try:
                weights.set_share(self.elbv2(region), region, 0)
            except Exception as exc:  # keep going: every other region still gets its share back
                unconfirmed.append(region)
                self.row("rollback", "FAIL", f"share not confirmed at 0: {exc}", role=region.role)
                continue
            if self.record is not None:
                self.record.shares[region.role] = 0
            self.report.shares[region.role] = 0
            self.row("rollback", "undo", "the candidate's share is 0; the stable pods take all the traffic",
                     role=region.role, share=0)
        if self.record is not None:
            self.record.state = final_state
            self.record.reasons.append(reason)
            try:
                self.save()
            except Exception as exc:
                self.report.messages.append(f"the release record could not be updated ({exc}); the shares are as reported")
        self.report.reasons.append(reason)
        if unconfirmed:
            self.report.outcome = "rollback-unconfirmed"
            self.report.messages.append("ACT NOW: put the shares back by hand:")
            self.report.messages += [c for r in unconfirmed for c in weights.manual_commands(r, 0)]
        self.report.patch = patch.remove_candidate(self.tier, stack_file=self.env.stack_file,
                                                   reason="Pin back: remove the candidate (it serves no traffic now):")

    # -- the commands

    def steps(self) -> list[Step]:
        return plan_steps(self.tier, self.settings)

    def run_from(self, index: int, *, limit: int | None = None) -> None:
        """Run the steps from `index` (at most `limit` of them); the outcome says where it stopped."""
        steps = self.steps()
        end = len(steps) if limit is None else min(len(steps), index + limit)
        try:
            for position in range(index, end):
                step = steps[position]
                if step.kind in ("golden", "share"):
                    self.traffic_is_normal()
                self.run_step(step)
                self.record.step = position + 1
                self.save()
            self.report.outcome = "promoted" if end == len(steps) else "advanced"
        except ReleaseFailed as failure:
            had_traffic = any(self.record.shares.values())
            self.rollback(failure.role, failure.detail, final_state="rolled-back")
            if self.report.outcome != "rollback-unconfirmed":
                # Rejected: the candidate never had a share; rolled back: every share it had is 0 again.
                self.report.outcome = "rolled-back" if had_traffic else "rejected"
        except Pause as pause:
            self.report.outcome = pause.outcome
            self.report.reasons.append(pause.detail)
            self.report.patch = pause.patch
        finally:
            self.report.shares = dict(self.record.shares)
