"""Render a Pulumi program offline into a deterministic plan document.

`render(env)` runs `stacks/__main__.py` with `stacks/Pulumi.<env>.yaml` under the mock
runtime (`review.mock_runtime`), so it needs neither cloud credentials nor a Pulumi
backend. The result is a JSON-able dict (`Plan.document`):

    {"format": 2, "project", "environment", "program", "stackConfig", "config", "configSecretDigests",
     "resources": [{"urn", "type", "name", "parent", "provider", "region", "custom", "inputs",
                    "options"?, "dependencies"?, "computed"?}],
     "outputs", "summary", "policy", "warnings", "estimate"}

(`options`, `dependencies` and `computed` are written only when not empty; see `_engine_view`.
`estimate` is `review.estimate.estimate` of the rest of the document.)

Determinism: resources are listed depth-first from the stack, siblings sorted by URN
(registration order depends on when outputs resolve, so it is not used); JSON keys are
sorted; whole-number floats (the wire format has only doubles) become ints; no times or
absolute paths are written. Secrets (from `secure:` config or `Output.secret`) are
written as "[secret]", and so is every occurrence of a `secure:` value's stand-in.

Regions ("global" where a resource is not regional):
  * providers, `aws:iam/*`, `aws:route53/*`, `aws:route53recoverycontrol/*` -> "global";
  * `kubernetes:*` -> the `--region` in the exec args of its provider's kubeconfig;
  * other custom resources -> their `region` input, else their explicit provider's
    `region` input, else the `aws:region` config (what the default provider would use);
  * components -> the region of their descendants when all of them agree, else "global"
    (so a component holding a regional bucket and a global IAM role is "global").
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import runpy
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from recsys_dr.review.stackconfig import MASK, ConfigurationError, StackConfig, load_stack_config, mask_stand_ins

FORMAT_VERSION = 2
UNKNOWN = "[unknown]"
GLOBAL = "global"
STACK_TYPE = "pulumi:pulumi:Stack"


def default_program_dir() -> Path:
    """The installed `recsys_dr.stacks` package (its `__main__.py` is the program), in a checkout
    or a wheel install alike; found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("recsys_dr.stacks")
    if spec is None or not spec.origin:
        raise PlanError("the recsys_dr.stacks package is not installed: give --program-dir")
    return Path(spec.origin).resolve().parent


class PlanError(RuntimeError):
    """The program could not be rendered for a reason other than its configuration."""


@dataclass
class Plan:
    """A rendered plan: the JSON document plus what the summary and the tests need.

    Attributes:
        document: the deterministic, JSON-able plan (what `--out` writes).
        policy_resources: resources as the stack-level policies saw them (outputs, secrets
            unwrapped); not written to the document.
        warnings: warnings the program logged through `pulumi.log`.
    """

    document: dict[str, Any]
    policy_resources: list[Any] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def resources(self) -> list[dict[str, Any]]:
        return self.document["resources"]

    def of_type(self, type_token: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == type_token]

    @property
    def mandatory_violations(self) -> list[dict[str, Any]]:
        return [v for v in self.document["policy"]["violations"] if v["enforcement"] == "mandatory"]

    def to_json(self) -> str:
        return to_json(self.document)


def to_json(document: dict[str, Any]) -> str:
    """Serialise a plan byte-for-byte reproducibly (sorted keys, 2-space indent, final newline)."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def find_project_root(program_dir: Path) -> Path | None:
    """The nearest folder at or above `program_dir` that holds a `Pulumi.yaml`."""
    for folder in (program_dir, *program_dir.parents):
        if (folder / "Pulumi.yaml").is_file():
            return folder
    return None


def project_name(project_root: Path | None) -> str:
    if project_root is None:
        return "recsys-dr"
    try:
        document = yaml.safe_load((project_root / "Pulumi.yaml").read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return "recsys-dr"
    return str(document.get("name") or "recsys-dr")


def _label(path: Path, root: Path | None) -> str:
    """A path as written into the plan: relative to the project root, never absolute."""
    path = path.resolve()
    if root is not None:
        with contextlib.suppress(ValueError):
            return path.relative_to(root.resolve()).as_posix() or "."
    return path.name


def load_config(env: str, *, program_dir: Path | None = None, config_dir: Path | None = None,
                stack_file: Path | None = None) -> StackConfig:
    """Load the stack file of `env` (see `review.stackconfig.load_stack_config`)."""
    program_dir = Path(program_dir or default_program_dir()).resolve()
    if stack_file is not None:
        stack_file = Path(stack_file).resolve()
        config_dir = stack_file.parent
    config_dir = Path(config_dir).resolve() if config_dir else program_dir
    path = stack_file or config_dir / f"Pulumi.{env}.yaml"
    root = find_project_root(program_dir)
    return load_stack_config(config_dir, env, project_name(root), source_label=_label(path, root), path=path)


def render(env: str, *, program_dir: Path | None = None, config_dir: Path | None = None,
           stack_file: Path | None = None) -> Plan:
    """Run the program for `env` under the mocks and build its plan.

    Args:
        env: environment name; its config is `<config_dir>/Pulumi.<env>.yaml`.
        program_dir: folder with the program's `__main__.py` (default: the installed
            `recsys_dr.stacks` package).
        config_dir: folder with the stack files (default: `program_dir`).
        stack_file: an explicit stack file; overrides `config_dir`.

    Raises:
        ConfigurationError: the stack file is missing or malformed, or the program rejected
            its configuration (a `ValueError` such as `stacks.settings.ConfigError`, or a
            missing/mistyped required key); `problems` has one line per problem.
        PlanError: the program failed for another reason.
    """
    from recsys_dr.review import mock_runtime

    program_dir = Path(program_dir or default_program_dir()).resolve()
    if not (program_dir / "__main__.py").is_file():
        raise PlanError(f"{program_dir.name}/__main__.py not found: nothing to render")
    root = find_project_root(program_dir)
    project = project_name(root)
    stack_config = load_config(env, program_dir=program_dir, config_dir=config_dir, stack_file=stack_file)

    log_records: list[logging.LogRecord] = []
    logger = _capturing_logger(log_records)
    try:
        with _program_context(program_dir):
            run = mock_runtime.run_program(
                lambda: runpy.run_path(str(program_dir), run_name="__main__"),
                config=stack_config.values,
                project=project,
                stack=env,
                secret_keys=list(stack_config.secret_keys),
                logger=logger,
            )
    except ConfigurationError as error:
        error.warnings = list(stack_config.warnings)
        raise
    except Exception as error:  # noqa: BLE001 - classified below, never swallowed
        classified = _classify(error, stack_config)
        # An ESC import may be why a key is missing: say so beside the problems.
        classified.warnings = list(stack_config.warnings)
        raise classified from error
    errors = [mask_stand_ins(r.getMessage(), stack_config.stand_ins) for r in log_records if r.levelno >= logging.ERROR]
    if errors:
        raise PlanError("; ".join(errors))
    warnings = [r.getMessage() for r in log_records if logging.WARNING <= r.levelno < logging.ERROR]
    return build_plan(run, stack_config, project=project, program_label=_label(program_dir, root),
                      warnings=list(stack_config.warnings) + warnings)


def _capturing_logger(records: list[logging.LogRecord]) -> logging.Logger:
    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    logger = logging.Logger("recsys-dr.plan.program")
    logger.propagate = False
    logger.addHandler(_Keep(level=logging.WARNING))
    return logger


@contextlib.contextmanager
def _program_context(program_dir: Path):
    """Run like the Pulumi language host: cwd = program dir, and fresh program-local modules.

    Modules loaded from files inside `program_dir` (e.g. a `settings.py` beside
    `__main__.py`, or `stacks.*`) are dropped before and after the run so that every render
    starts from clean module state; library code such as `components` stays cached.
    """
    previous_cwd = os.getcwd()
    _forget_modules_under(program_dir)
    os.chdir(program_dir)
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        _forget_modules_under(program_dir)


def _forget_modules_under(folder: Path) -> None:
    prefix = str(folder) + os.sep
    for name, module in list(sys.modules.items()):
        module_file = getattr(module, "__file__", None)
        if module_file and os.path.abspath(module_file).startswith(prefix):
            del sys.modules[name]


def _classify(error: BaseException, stack_config: StackConfig) -> Exception:
    """Turn what a program raised into a configuration error or a plan error."""
    import pulumi

    config_types: tuple[type[BaseException], ...] = (
        ValueError,
        pulumi.ConfigMissingError,
        pulumi.ConfigTypeError,
    )
    input_error = getattr(pulumi, "InputPropertiesError", None)
    if input_error is not None:
        config_types += (input_error,)
    if isinstance(error, config_types):
        problems = getattr(error, "problems", None)
        details = getattr(error, "errors", None)
        if isinstance(problems, (list, tuple)) and problems:
            lines = [str(p) for p in problems]
        elif details:
            # InputPropertyErrorDetails is a TypedDict: a dict at run time.
            lines = [str(d.get("reason", d) if isinstance(d, dict) else getattr(d, "reason", d)) for d in details]
        else:
            message = getattr(error, "message", None) or str(error)
            lines = [line.strip() for line in str(message).splitlines() if line.strip()]
        return ConfigurationError([f"{stack_config.source}: {_explain_stand_in(line, stack_config)}" for line in lines])
    return PlanError(mask_stand_ins(f"the program failed: {type(error).__name__}: {error}", stack_config.stand_ins))


def _explain_stand_in(line: str, stack_config: StackConfig) -> str:
    """A problem about a secret's stand-in says so (and never shows the stand-in)."""
    keys = [key for stand_in, key in stack_config.stand_ins.items() if stand_in in line]
    if not keys:
        return line
    return (f"{mask_stand_ins(line, stack_config.stand_ins)} (`{'`, `'.join(keys)}` is a `secure:` value: the "
            "plan cannot decrypt it and checked a stand-in of its shape; `pulumi preview` checks the real value)")


# --------------------------------------------------------------------------- building


def build_plan(
    run: Any,
    stack_config: StackConfig,
    *,
    project: str,
    program_label: str,
    warnings: list[str] | None = None,
) -> Plan:
    """Build the plan document from a `ProgramRun` (see module docstring for the rules)."""
    from recsys_dr.review.estimate import estimate

    urns = _Urns.of(run, stack_config, project)
    ordered = urns.depth_first()
    outputs = {
        key: (MASK if key in getattr(run, "secret_outputs", ()) else jsonable(value, mask_secrets=True))
        for key, value in sorted(run.outputs.items())
    }
    checked = [(urn, urns.resource(urn).type, jsonable(urns.resource(urn).inputs, mask_secrets=False))
               for urn in ordered if urns.resource(urn).custom]
    policy_resources = [urns.policy_resource(urn) for urn in ordered if urns.resource(urn).custom]
    records = [urns.record(urn) for urn in ordered]
    document = {
        "format": FORMAT_VERSION,
        "project": project,
        "environment": stack_config.env,
        "program": program_label,
        "stackConfig": stack_config.source,
        "config": stack_config.display,
        "configSecretDigests": stack_config.secret_digests,
        "resources": records,
        "outputs": outputs,
        "summary": _summary(records, outputs),
        "policy": policy_section(checked, policy_resources),
        "warnings": sorted(set(warnings or [])),
    }
    document = mask_stand_ins(document, stack_config.stand_ins)
    document["estimate"] = estimate(document)
    return Plan(document=document, policy_resources=policy_resources, warnings=sorted(set(warnings or [])))


@dataclass
class _Urns:
    """The run's resources under the URNs the engine would give them, with their providers and regions."""

    stack_urn: str
    stack: str
    project: str
    urn_map: dict[str, str]  # mock URN -> engine URN
    by_engine_urn: dict[str, Any]
    regions: dict[str, str] = field(default_factory=dict)  # mock URN -> region

    @classmethod
    def of(cls, run: Any, stack_config: StackConfig, project: str) -> _Urns:
        stack = stack_config.env
        stack_urn = f"urn:pulumi:{stack}::{project}::{STACK_TYPE}::{project}-{stack}"
        registered = {r.urn: r for r in run.resources}
        urn_map = _engine_urns(run.resources, stack, project)
        urn_map.update({r.parent: stack_urn for r in run.resources if r.parent and r.parent not in registered})
        urns = cls(stack_urn, stack, project, urn_map, {urn_map[r.urn]: r for r in run.resources})
        default_region = stack_config.values.get("aws:region") or GLOBAL
        urns.regions = _regions(run.resources, urn_map, urns.by_engine_urn, urns.provider_urn, default_region)
        return urns

    def resource(self, urn: str) -> Any:
        return self.by_engine_urn[urn]

    def parent(self, resource: Any) -> str:
        return self.urn_map.get(resource.parent, self.stack_urn)

    def provider_urn(self, resource: Any) -> str | None:
        if not resource.custom or resource.type.startswith("pulumi:providers:"):
            return None
        if resource.provider:
            ref = resource.provider.rsplit("::", 1)[0]
            return self.urn_map.get(ref, ref)
        package = resource.type.split(":")[0]
        return f"urn:pulumi:{self.stack}::{self.project}::pulumi:providers:{package}::default"

    def depth_first(self) -> list[str]:
        """Engine URNs depth-first from the stack, siblings sorted (registration order is not stable)."""
        children: dict[str, list[str]] = defaultdict(list)
        for urn, resource in self.by_engine_urn.items():
            children[self.parent(resource)].append(urn)
        ordered: list[str] = []
        pending = list(reversed(sorted(children.get(self.stack_urn, []))))
        while pending:
            urn = pending.pop()
            ordered.append(urn)
            pending.extend(reversed(sorted(children.get(urn, []))))
        # Anything unreachable (should not happen) still gets listed, sorted.
        return ordered + sorted(set(self.by_engine_urn) - set(ordered))

    def record(self, urn: str) -> dict[str, Any]:
        resource = self.resource(urn)
        return {
            "urn": urn,
            "type": resource.type,
            "name": resource.name,
            "parent": self.parent(resource),
            "provider": self.provider_urn(resource),
            "region": self.regions[resource.urn],
            "custom": resource.custom,
            "inputs": jsonable(resource.inputs, mask_secrets=True),
            **_engine_view(resource, self.urn_map),
        }

    def policy_resource(self, urn: str) -> Any:
        """The resource as the stack-level policies see it (inputs and outputs, secrets unwrapped)."""
        from recsys_dr.policy import rules

        resource = self.resource(urn)
        return rules.Resource(
            type=resource.type,
            urn=urn,
            name=resource.name,
            props=jsonable({**resource.inputs, **resource.outputs}, mask_secrets=False),
            provider=self.provider_urn(resource),
            parent=self.parent(resource),
            region=self.regions[resource.urn],
            property_dependencies={
                key: [self.urn_map.get(dep, dep) for dep in deps]
                for key, deps in getattr(resource, "property_dependencies", {}).items()
            },
            options=getattr(resource, "options", {}),  # `protect` for s3-/kms-*-protected
        )


def policy_section(checked: list[tuple[str, str, Any]], resources: list[Any]) -> dict[str, Any]:
    """The plan's `policy` entry: every rule of this installation's pack, run on the resources.

    Args:
        checked: `(urn, type, inputs)` of each custom resource, for the resource rules.
        resources: `policy.rules.Resource` records of the same resources, for the stack rules.
    """
    from recsys_dr.policy import rules

    violations = [v.as_dict() for urn, type_token, inputs in checked
                  for v in rules.check_resource(type_token, inputs, urn=urn)]
    violations += [v.as_dict() for v in rules.check_stack(resources)]
    violations.sort(key=lambda v: (v["enforcement"] != "mandatory", v["rule"], v["urn"] or "", v["message"]))
    return {
        "pack": rules.PACK_NAME,
        "rules": [
            {"name": rule.name, "enforcement": rule.enforcement, "scope": rule.scope}
            for rule in sorted(rules.ALL_RULES, key=lambda r: r.name)
        ],
        "violations": violations,
        "mandatoryViolations": sum(v["enforcement"] == "mandatory" for v in violations),
        "advisoryViolations": sum(v["enforcement"] == "advisory" for v in violations),
    }


def recheck(document: dict[str, Any]) -> dict[str, Any]:
    """A plan document with its `policy` and `estimate` recomputed by this installation's code.

    A pull request's plan is written by the pull request's own code, so what it says about
    itself (violations, cost) is not evidence; the PR workflows recompute both with the base
    commit's code from the resources the plan lists. Each resource's properties are rebuilt as
    the stack rules saw them: its inputs and its `computed` outputs (`id` aside). Secrets stay
    masked ("[secret]"), as the plan wrote them.
    """
    from recsys_dr.policy import rules
    from recsys_dr.review.estimate import estimate

    custom = [r for r in document.get("resources", []) if r.get("custom")]
    checked = [(r["urn"], r["type"], r.get("inputs") or {}) for r in custom]
    resources = [
        rules.Resource(
            type=r["type"], urn=r["urn"], name=r["name"],
            props={**(r.get("inputs") or {}), **{k: v for k, v in (r.get("computed") or {}).items() if k != "id"}},
            provider=r.get("provider"), parent=r.get("parent"), region=r.get("region"),
            property_dependencies=r.get("dependencies") or {}, options=r.get("options") or {},
        )
        for r in custom
    ]
    rechecked = {key: value for key, value in document.items() if key != "estimate"}
    rechecked["policy"] = policy_section(checked, resources)
    rechecked["estimate"] = estimate(rechecked)
    return rechecked


# Outputs the mocks add that are not cloud-computed values worth tracking.
_NOT_COMPUTED = ("tagsAll",)


def _engine_view(resource: Any, urn_map: dict[str, str]) -> dict[str, Any]:
    """What the diff needs beyond the inputs, each key only when it has content.

    * `options`: the resource options the engine applies when diffing (`ignoreChanges`,
      `deleteBeforeReplace`, `replaceOnChanges`, `protect`, `retainOnDelete`).
    * `dependencies`: `{input key: [URNs]}`, the resources each input's value came from
      (written for every custom resource, `{}` included).
    * `computed`: outputs the cloud computes (ids, ARNs, hostnames): here the mocks' stand-ins,
      which a real preview shows as unknown while the resource is being created or replaced.
    """
    view: dict[str, Any] = {}
    options = getattr(resource, "options", None)
    if options:
        view["options"] = dict(sorted(options.items()))
    dependencies = {
        key: sorted({urn_map.get(dep, dep) for dep in deps})
        for key, deps in sorted(getattr(resource, "property_dependencies", {}).items())
        if deps
    }
    if resource.custom:
        view["dependencies"] = dependencies  # always, so `{}` means "built from no other resource"
    computed = {
        key: value
        for key, value in sorted(resource.outputs.items())
        if key not in _NOT_COMPUTED and (key not in resource.inputs or resource.inputs[key] != value)
    }
    resource_id = getattr(resource, "id", "")
    if resource_id and resource.custom and not resource.type.startswith("pulumi:providers:"):
        computed["id"] = resource_id
    if computed and resource.custom:
        view["computed"] = jsonable(dict(sorted(computed.items())), mask_secrets=True)
    return view


def _engine_urns(resources: list[Any], stack: str, project: str) -> dict[str, str]:
    """Map mock URNs to the URNs the Pulumi engine would assign.

    The engine qualifies a type with its ancestors' types, leaving out the root stack
    (`urn:pulumi:dev::recsys-dr::recsys-dr:components:Region$aws:s3/bucket:Bucket::models`);
    the mock monitor keeps only the immediate parent and includes the stack.
    """
    by_urn = {r.urn: r for r in resources}
    qualified: dict[str, str] = {}

    def qualify(resource: Any) -> str:
        if resource.urn not in qualified:
            parent = by_urn.get(resource.parent)
            prefix = qualify(parent) + "$" if parent is not None else ""
            qualified[resource.urn] = prefix + resource.type
        return qualified[resource.urn]

    return {r.urn: f"urn:pulumi:{stack}::{project}::{qualify(r)}::{r.name}" for r in resources}


def _regions(resources, urn_map, by_engine_urn, provider_urn, default_region) -> dict[str, str]:
    """Region of every resource, keyed by mock URN (rules in the module docstring)."""
    from recsys_dr.policy.rules import resource_region

    result: dict[str, str] = {}
    for resource in resources:
        if not resource.custom:
            continue
        provider = by_engine_urn.get(provider_urn(resource) or "")
        provider_props = unwrap_secrets(provider.inputs) if provider is not None else None
        region = resource_region(resource.type, unwrap_secrets(resource.inputs), provider_props)
        if region is None:
            # A Kubernetes object whose cluster cannot be told is global; anything else falls
            # back to the stack's `aws:region`.
            region = GLOBAL if resource.type.startswith("kubernetes:") else default_region
        result[resource.urn] = region

    children: dict[str, list[Any]] = defaultdict(list)
    for resource in resources:
        children[resource.parent].append(resource)

    def component_region(resource: Any) -> str:
        if resource.urn in result:
            return result[resource.urn]
        found = {component_region(child) for child in children.get(resource.urn, [])}
        result[resource.urn] = found.pop() if len(found) == 1 else GLOBAL
        return result[resource.urn]

    for resource in resources:
        component_region(resource)
    return result


def _summary(records: list[dict[str, Any]], outputs: dict[str, Any]) -> dict[str, Any]:
    by_region: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for record in records:
        if record["custom"]:
            by_region[record["region"]][record["type"]] += 1
    return {
        "resourceCount": sum(1 for r in records if r["custom"]),
        "componentCount": sum(1 for r in records if not r["custom"]),
        "byRegion": {region: dict(sorted(kinds.items())) for region, kinds in sorted(by_region.items())},
        "model": outputs.get("model"),
        "standbyMode": outputs.get("standbyMode"),
        "failoverControl": outputs.get("failoverControl"),
        "failoverBudgetSeconds": outputs.get("failoverBudgetSeconds"),
        "failoverBudgetTargetSeconds": outputs.get("failoverBudgetTargetSeconds"),
        "dns": outputs.get("dns"),
    }


# --------------------------------------------------------------------------- values


def unwrap_secrets(value: Any) -> Any:
    """Strip Pulumi's secret envelopes (`{sig: secret, value: ...}`) recursively."""
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return unwrap_secrets(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [unwrap_secrets(v) for v in value]
    return value


def jsonable(value: Any, *, mask_secrets: bool) -> Any:
    """Turn deserialized Pulumi property values into plain, stable JSON values.

    Secrets become "[secret]" (or their value when `mask_secrets` is false), unknowns
    "[unknown]", whole-number floats ints, assets/archives a small description without
    absolute paths, resource references their URN.
    """
    import pulumi
    from pulumi.runtime import rpc

    if rpc.is_rpc_secret(value):
        return MASK if mask_secrets else jsonable(rpc.unwrap_rpc_secret(value), mask_secrets=False)
    if value is None or isinstance(value, (bool, str)):
        return UNKNOWN if value == rpc.UNKNOWN else value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, dict):
        return {str(k): jsonable(v, mask_secrets=mask_secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, mask_secrets=mask_secrets) for v in value]
    if isinstance(value, pulumi.Asset):
        return {"asset": _asset_description(value)}
    if isinstance(value, pulumi.Archive):
        if isinstance(value, pulumi.AssetArchive):
            return {"archive": {k: jsonable(v, mask_secrets=mask_secrets) for k, v in sorted(value.assets.items())}}
        return {"archive": _asset_description(value)}
    if isinstance(value, pulumi.Resource):
        from pulumi.runtime.sync_await import _sync_await

        return {"resource": _sync_await(value.urn.future())}
    return {"unsupported": type(value).__name__}


def _asset_description(asset: Any) -> dict[str, str]:
    if getattr(asset, "text", None) is not None:
        return {"sha256": hashlib.sha256(asset.text.encode()).hexdigest()}
    if getattr(asset, "path", None) is not None:
        path = Path(asset.path)
        described = {"path": path.name if path.is_absolute() else path.as_posix()}
        if path.is_file():
            described["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
        return described
    if getattr(asset, "uri", None) is not None:
        return {"uri": asset.uri}
    return {}
