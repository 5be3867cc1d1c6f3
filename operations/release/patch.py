"""The stack-file changes a release asks for, as `pulumi config` commands.

The release tool moves traffic; the stack file says which versions run. So a release ends with
two reviewed changes of the stack file, which the tool prints (and `--patch-out` writes as a
script): first the candidate becomes every region's stable pin (`pin-candidate`: the stable pods
roll to it while the candidate carries the traffic), then the candidate goes (`remove-candidate`,
also the "pin back" after a rollback or an abort).

With `--stack-file` the commands name the keys that stack file uses (`model.candidate` or
`model.pins.<role>.candidate`, `model.artifactDir`); without it they assume the common form (one
`model.version` for every region and `model.candidate`). The fallback tier's keys are
`fallback.version`, `fallback.manifestSha256` (`fallback.image`) and `fallback.candidate`.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from recsys_dr.operations.release.tier import FALLBACK_TIER, Tier

NAMESPACE = "recsys-dr"


def _model_section(stack_file: Path | None) -> dict:
    if stack_file is None:
        return {}
    import yaml

    document = yaml.safe_load(Path(stack_file).read_text(encoding="utf-8")) or {}
    section = (document.get("config") or {}).get(f"{NAMESPACE}:model") or {}
    return section if isinstance(section, dict) else {}


def _set(key: str, value: object, stack: str) -> str:
    return f"pulumi config set --path {shlex.quote(key)} {shlex.quote(str(value))} -s {shlex.quote(stack)}"


def _rm(key: str, stack: str) -> str:
    return f"pulumi config rm --path {shlex.quote(key)} -s {shlex.quote(stack)}"


def _fallback_pin(tier: Tier, candidate: dict) -> list[str]:
    """The fallback tier's pin is `fallback.version` / `fallback.manifestSha256` (and `fallback.image`)."""
    stack = tier.environment
    commands = [_set("fallback.version", candidate["version"], stack),
                _set("fallback.manifestSha256", candidate["manifestSha256"], stack)]
    if candidate.get("image") and {r.stable.image for r in tier.regions.values()} != {candidate["image"]}:
        commands.append(_set("fallback.image", candidate["image"], stack))
    return commands


def pin_candidate(tier: Tier, candidate: dict, *, stack_file: Path | None = None) -> dict:
    """Every region's stable pin becomes the candidate; the candidate stays (it carries the traffic)."""
    if tier.name == FALLBACK_TIER:
        return {"stage": "pin-candidate", "commands": _fallback_pin(tier, candidate),
                "description": f"Promote fallback v{candidate['version']}: pin it as `fallback.version` (the candidate stays "
                               "until the stable pods run it), `pulumi up`, re-export the outputs, then "
                               "`recsys-dr release advance --tier fallback`:"}
    model, stack = _model_section(stack_file), tier.environment
    pins = model.get("pins") or {}
    commands = []
    if any(isinstance(pins.get(role), dict) and pins[role].get("version") is not None for role in tier.regions):
        for role in tier.regions:
            commands += [_set(f"model.pins.{role}.version", candidate["version"], stack),
                         _set(f"model.pins.{role}.manifestSha256", candidate["manifestSha256"], stack)]
    else:
        commands += [_set("model.version", candidate["version"], stack),
                     _set("model.manifestSha256", candidate["manifestSha256"], stack)]
    stable_images = {region.stable.image for region in tier.regions.values()}
    if candidate.get("image") and stable_images != {candidate["image"]}:
        commands.append(_set("serving.image", candidate["image"], stack))
    candidate_dir = (model.get("candidate") or {}).get("artifactDir") if isinstance(model.get("candidate"), dict) else None
    if candidate_dir:
        commands.append(_set("model.artifactDir", candidate_dir, stack))
    elif model.get("artifactDir"):
        commands.append(_rm("model.artifactDir", stack))
    return {"stage": "pin-candidate", "commands": commands,
            "description": f"Promote v{candidate['version']}: pin it as every region's stable version (the candidate "
                           "stays until the stable pods run it), `pulumi up`, re-export the outputs, then "
                           "`recsys-dr release advance`:"}


def remove_candidate(tier: Tier, *, stack_file: Path | None = None, reason: str) -> dict:
    """The candidate pins go (after a promotion, a rollback or an abort)."""
    if tier.name == FALLBACK_TIER:
        return {"stage": "remove-candidate", "commands": [_rm("fallback.candidate", tier.environment)], "description": reason}
    model, stack = _model_section(stack_file), tier.environment
    pins = model.get("pins") or {}
    keys = [f"model.pins.{role}.candidate" for role in tier.regions
            if isinstance(pins.get(role), dict) and pins[role].get("candidate") is not None]
    if not keys or model.get("candidate") is not None:
        keys.insert(0, "model.candidate")
    return {"stage": "remove-candidate", "commands": [_rm(key, stack) for key in keys], "description": reason}


def write_script(patch: dict, path: Path) -> None:
    path.write_text("#!/bin/sh\n# recsys-dr release: " + patch["stage"] + "\nset -e\n" + "\n".join(patch["commands"]) + "\n",
                    encoding="utf-8")
