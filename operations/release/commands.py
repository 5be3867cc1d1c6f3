"""The five `recsys-dr release` commands over a `flow.Environment`: plan, start, advance, abort, status."""

from __future__ import annotations

from recsys_dr.operations.release import record, weights
from recsys_dr.operations.release.flow import Environment, Pause, Release, describe_plan
from recsys_dr.operations.release.report import ReleaseReport


def plan(env: Environment) -> ReleaseReport:
    """The steps and gates a release would run, and whether it could start now; changes nothing."""
    report = ReleaseReport("plan", plan=describe_plan(env.tier, env.settings))
    run = Release(env, report)
    try:
        _preflight(run, accept_quality_drop=False)
    except Pause as pause:
        report.outcome = pause.outcome
        report.reasons.append(pause.detail)
        return report
    live = env.settings["live"]
    least = live["bakeSeconds"] * len(env.settings["canaryPercents"])
    report.messages.append(f"a release takes at least {least} s of bake windows ({len(env.settings['canaryPercents'])} "
                           f"x {live['bakeSeconds']} s), then the two stack changes of the promotion")
    return report


def _preflight(run: Release, *, accept_quality_drop: bool):
    """What `plan` and `start` check before anything moves: the candidate, no active release of the tier
    (the lock), every share at 0, traffic on the primary, the offline quality gate. Returns the candidate
    and whether its quality is within the gate; raises Pause."""
    candidate = run.candidate()
    current = run.store.read()
    if current is not None and current.active:
        raise Pause("refused", str(record.LockHeld(current)))
    run.shares_at_rest()
    run.traffic_is_normal()
    return candidate, run.quality(candidate, accept=accept_quality_drop)


def start(env: Environment, *, accept_quality_drop: bool = False, one_step: bool = False) -> ReleaseReport:
    report = ReleaseReport("start", plan=describe_plan(env.tier, env.settings))
    run = Release(env, report)
    try:
        candidate, within = _preflight(run, accept_quality_drop=accept_quality_drop)
        now = env.clock.now()
        run.record = record.ReleaseRecord(
            id=record.new_id(now), tier=env.tier.name, environment=env.tier.environment, model=env.tier.model_name,
            candidate=candidate, stable={role: {"version": r.stable.version, "manifestSha256": r.stable.manifest_sha256,
                                                "image": r.stable.image} for role, r in env.tier.regions.items()},
            shares={role: 0 for role in env.tier.regions}, accepted_quality_drop=not within,
            history=list(report.steps), started_at=record.stamp(now), updated_at=record.stamp(now))
        run.store.acquire(run.record)
    except (Pause, record.LockHeld, record.LockLost) as stop:
        report.outcome = getattr(stop, "outcome", "refused")
        report.reasons.append(getattr(stop, "detail", str(stop)))
        return report
    report.release = run.record.to_dict()
    _run(run, 0, one_step)
    return report


def _run(run: Release, index: int, one_step: bool) -> None:
    try:
        run.run_from(index, limit=1 if one_step else None)
    except KeyboardInterrupt:
        run.report.outcome = "interrupted"
        run.report.reasons.append(f"interrupted at step {run.record.step + 1}; the candidate keeps its shares "
                                  f"({run.record.shares}): `recsys-dr release advance` resumes, `abort` rolls back")
        try:
            run.save()
        except Exception as exc:  # the record keeps the last step saved
            run.report.messages.append(f"the record could not be saved after the interrupt ({exc})")


def advance(env: Environment, *, one_step: bool = False) -> ReleaseReport:
    """Resume the active release from where its record says it is."""
    report = ReleaseReport("advance", plan=describe_plan(env.tier, env.settings))
    run = Release(env, report)
    current = run.store.read()
    if current is None or not current.active:
        report.outcome = "refused"
        report.reasons.append("no release of this tier is active (`recsys-dr release start` begins one)")
        report.release = current.to_dict() if current else None
        return report
    run.record = current
    report.release = current.to_dict()
    pinned = {(r.candidate.version, r.candidate.manifest_sha256) for r in env.tier.regions.values() if r.candidate}
    if pinned - {(current.candidate["version"], current.candidate["manifestSha256"])}:
        report.outcome = "refused"
        report.reasons.append(f"the outputs pin another candidate than release {current.id} (v{current.candidate['version']}): "
                              "abort it first, or re-export the outputs of the right stack")
        return report
    _run(run, current.step, one_step)
    return report


def abort(env: Environment) -> ReleaseReport:
    """Every share back to 0 (confirmed), the active release ended, the pin-back change printed."""
    report = ReleaseReport("abort")
    run = Release(env, report)
    try:
        current = run.store.read()
    except Exception as exc:  # the primary's S3 may be what is down: the shares still go back
        current = None
        report.messages.append(f"the release record could not be read ({exc}); every share is put back anyway")
    run.record = current if current is not None and current.active else None
    run.rollback(None, "aborted by the operator", final_state="aborted")
    if report.outcome != "rollback-unconfirmed":
        report.outcome = "aborted"
    return report


def status(env: Environment) -> ReleaseReport:
    """The active (or last) release, the live shares, and whether they agree with it."""
    report = ReleaseReport("status")
    run = Release(env, report)
    current = run.store.read()
    report.release = current.to_dict() if current else None
    active = current is not None and current.active
    expected = current.shares if active else {}
    findings = []
    for region in env.tier.release_order():
        share = weights.region_share(weights.read_shares(run.elbv2(region), region))
        report.shares[region.role] = share
        want = expected.get(region.role, 0)
        found = []
        if share is None:
            found.append(f"{region.region}: the route rules disagree (a move was interrupted between them)")
        elif share != want:
            found.append(f"{region.region}: the candidate has {share:g} % of the traffic; "
                         + (f"the release says {want} %" if active else "no release is active"))
        if share and region.candidate is None:
            found.append(f"{region.region}: a share goes to the canary target group but no candidate is pinned")
        run.row("share", "FAIL" if found else "ok", "; ".join(found) or (f"{share:g} %, as expected"),
                role=region.role, share=share)
        findings += found
    if current is not None:
        report.messages.append(f"release {current.id}: v{current.candidate['version']} {current.state}, "
                               f"step {current.step}, shares {current.shares}")
    else:
        report.messages.append("no release has run for this tier")
    report.reasons += findings
    report.outcome = "inconsistent" if findings else "status"
    if findings:
        report.messages.append("`recsys-dr release abort` puts every share back to 0")
    return report
