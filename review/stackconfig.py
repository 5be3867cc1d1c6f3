"""Read `Pulumi.<env>.yaml` the way the Pulumi CLI hands it to a program.

Pulumi passes every config value to the language host as a string: scalars as their
text, objects and lists as JSON. Keys without a namespace belong to the project
(`standbyMode` -> `recsys-dr:standbyMode`).

A `secure:` value cannot be decrypted offline, so the plan gives the program a stand-in of the
shape the key suggests (a hosted-zone id for `...zoneId`, an ARN for `...Arn`, a documentation
CIDR for `...Cidr(s)`, else `plan-secret-<n>`), marks the key secret, and masks every occurrence
of the stand-in in the plan as `[secret]`. An ESC `environment:` import is not resolved (that
needs Pulumi Cloud): the plan warns that the values it would add are missing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MASK = "[secret]"
_ENV_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


class ConfigurationError(ValueError):
    """The stack's configuration cannot be used; `problems` holds one line per problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = [p for p in problems if p] or ["invalid configuration"]
        super().__init__("\n".join(self.problems))


@dataclass(frozen=True)
class StackConfig:
    """Config of one environment, as the program receives it and as the plan shows it.

    Attributes:
        env: environment (stack) name, e.g. `dev`.
        source: the stack file's path as given (relative when it was relative).
        values: flat `{"<namespace>:<key>": "<string or JSON>"}` for the runtime.
        secret_keys: keys whose value came from `secure:` (the runtime sees placeholders).
        display: `{"<namespace>:<key>": <YAML value>}` with secrets replaced by `[secret]`.
    """

    env: str
    source: str
    values: dict[str, str]
    secret_keys: tuple[str, ...]
    display: dict[str, Any] = field(default_factory=dict)
    # `{stand-in: "<namespace>:<key path>"}` for every `secure:` value.
    stand_ins: dict[str, str] = field(default_factory=dict)
    # What the plan cannot reproduce offline (ESC imports), one sentence each.
    warnings: tuple[str, ...] = ()
    # `{key: digest}` of each secret's ciphertext: a new value gets a new ciphertext (Pulumi
    # encrypts with a fresh nonce), so the diff can say a secret changed without knowing it.
    secret_digests: dict[str, str] = field(default_factory=dict)


def secret_stand_in(path: str, index: int) -> str:
    """A value shaped like what `path` (e.g. `recsys-dr:dns.zoneId`) holds, unique per `index`.

    The program validates its settings, so a bare placeholder would be refused where a real
    secret passes; the shape follows the key's name.
    """
    leaf = path.rsplit(".", 1)[-1].split(":")[-1].rstrip("]").split("[")[0].lower()
    if leaf.endswith("zoneid"):
        return f"Z0PLANSECRET{index:08d}"  # Route 53 hosted-zone ids: Z + upper-case alphanumerics
    if leaf.endswith("arn") or leaf.endswith("arns"):
        return f"arn:aws:secretsmanager:us-east-1:123456789012:secret:plan-secret-{index}"
    if leaf.endswith("cidr") or leaf.endswith("cidrs"):
        return f"198.51.100.{index % 256}/32"  # TEST-NET-2 (RFC 5737): never a real range
    return f"plan-secret-{index}"


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping.

    PyYAML keeps the last value silently; the Pulumi CLI (Go yaml.v3) refuses the file
    ("mapping key ... already defined"), so the offline plan must too.
    """

    def construct_mapping(self, node, deep=False):  # noqa: ANN001 - PyYAML's signature
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice (first on line {seen[key] + 1})", key_node.start_mark
                )
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def available_envs(config_dir: Path) -> list[str]:
    """Names of the environments that have a `Pulumi.<env>.yaml` in `config_dir`."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in Path(config_dir).glob("Pulumi.*.yaml"))


def env_from_stack_file(path: Path) -> str:
    """`Pulumi.prod.yaml` -> `prod` (Pulumi's stack settings file name); else ConfigurationError."""
    name = Path(path).name
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml")):
        env = name[len("Pulumi."):].rsplit(".", 1)[0]
        if _ENV_PATTERN.match(env):
            return env
    raise ConfigurationError([f"{path}: cannot tell the environment from the file name (expected "
                              "Pulumi.<env>.yaml); give it as the first argument: recsys-dr plan <env> --stack-file ..."])


def load_stack_config(config_dir: Path, env: str, project: str, *, source_label: str | None = None,
                      path: Path | None = None) -> StackConfig:
    """Load `config_dir/Pulumi.<env>.yaml` (or the stack file at `path`).

    Args:
        config_dir: folder that holds the stack files.
        env: environment name; must match `^[A-Za-z0-9][A-Za-z0-9_.-]*$`.
        project: namespace given to keys without one.
        source_label: how to name the file in messages and in the plan (default: its path).
        path: an explicit stack file (any name), used instead of `config_dir/Pulumi.<env>.yaml`.

    Raises:
        ConfigurationError: unknown environment, unreadable YAML, or a malformed `config:` map.
    """
    config_dir = Path(config_dir)
    if not _ENV_PATTERN.match(env or ""):
        raise ConfigurationError(
            [f"environment {env!r} is not a valid stack name (letters, digits, '_', '.', '-')"]
        )
    path = Path(path) if path is not None else config_dir / f"Pulumi.{env}.yaml"
    label = source_label or str(path)
    if not path.is_file():
        known = ", ".join(available_envs(config_dir)) or "none"
        raise ConfigurationError([f"{label}: no such stack file; environments with a stack file: {known}"])
    document = _read_document(path, label)
    return StackConfig(
        env=env,
        source=label,
        **_config_values(document, project, label),
        warnings=tuple(_environment_warnings(document.get("environment"), label)),
    )


def _read_document(path: Path, label: str) -> dict:
    """The stack file as a YAML mapping (an empty file is an empty one); ConfigurationError otherwise."""
    try:
        document = yaml.load(path.read_bytes().decode("utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader
    except UnicodeDecodeError as error:
        # The Pulumi CLI reads stack files as UTF-8; anything else is refused there too.
        raise ConfigurationError([f"{label}: not UTF-8 text (byte {error.start}: {error.reason}); save the file as UTF-8"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigurationError([f"{label}: not valid YAML{where}: {problem}"]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigurationError([f"{label}: must be a YAML mapping with a `config:` key"])
    return document


def _config_values(document: dict, project: str, label: str) -> dict[str, Any]:
    """The `config:` map's keys namespaced, values as Pulumi passes them, secrets stood in for:
    the `StackConfig` fields `values`, `secret_keys`, `display`, `stand_ins`, `secret_digests`."""
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigurationError([f"{label}: `config` must be a mapping of key: value"])

    problems: list[str] = []
    values: dict[str, str] = {}
    display: dict[str, Any] = {}
    secret_keys: list[str] = []
    stand_ins: dict[str, str] = {}
    secret_digests: dict[str, str] = {}
    for raw_key, raw_value in config.items():
        key = str(raw_key)
        if key.count(":") == 0:
            key = f"{project}:{key}"
        elif key.count(":") > 1 or not all(key.split(":")):
            problems.append(f"{label}: config key {raw_key!r} must be `<key>` or `<namespace>:<key>`")
            continue
        if key in values:
            problems.append(f"{label}: config key {key!r} is set twice")
            continue
        value, is_secret, shown = _convert(raw_value, key, stand_ins)
        values[key] = value
        display[key] = shown
        if is_secret:
            secret_keys.append(key)
            secret_digests[key] = hashlib.sha256(json.dumps(_plain(raw_value), sort_keys=True).encode()).hexdigest()[:16]
    if problems:
        raise ConfigurationError(problems)
    return {
        "values": dict(sorted(values.items())),
        "secret_keys": tuple(sorted(secret_keys)),
        "display": dict(sorted(display.items())),
        "stand_ins": stand_ins,
        "secret_digests": dict(sorted(secret_digests.items())),
    }


def _environment_warnings(environment: Any, label: str) -> list[str]:
    """A warning per ESC `environment:` block: a list of imports, or an inline definition.

    Pulumi's stack settings file: `environment` is "an environment definition or a list of
    environments" (pulumi.com/docs/iac/concepts/projects/stack-settings-file).
    """
    if not environment:
        return []
    if isinstance(environment, list):
        names = [str(name) for name in environment]
    elif isinstance(environment, dict):
        names = [str(name) for name in environment.get("imports") or []] or ["(inline definition)"]
    else:
        names = [str(environment)]
    return [f"{label} imports ESC environment{'s' if len(names) != 1 else ''} {', '.join(names)}: "
            "not resolved offline, so the config values it would add (its `pulumiConfig`) are missing "
            "from this plan; `pulumi preview` resolves them"]


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def _replace_secure(value: Any, path: str, stand_ins: dict[str, str]) -> tuple[Any, bool]:
    """Replace every `{secure: ...}` inside `value` by a stand-in; report whether there was one."""
    if _is_secure(value):
        stand_in = secret_stand_in(path, len(stand_ins) + 1)
        stand_ins[stand_in] = path
        return stand_in, True
    if isinstance(value, dict):
        found = False
        out = {}
        for k, v in value.items():
            out[str(k)], inner = _replace_secure(v, f"{path}.{k}", stand_ins)
            found = found or inner
        return out, found
    if isinstance(value, list):
        items = [_replace_secure(v, f"{path}[{i}]", stand_ins) for i, v in enumerate(value)]
        return [v for v, _ in items], any(f for _, f in items)
    return value, False


def mask_stand_ins(value: Any, stand_ins: dict[str, str]) -> Any:
    """`value` with every stand-in (also inside longer strings) replaced by `[secret]`."""
    if not stand_ins:
        return value
    if isinstance(value, str):
        for stand_in in stand_ins:
            if stand_in in value:
                value = MASK if value == stand_in else value.replace(stand_in, MASK)
        return value
    if isinstance(value, dict):
        return {k: mask_stand_ins(v, stand_ins) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_stand_ins(v, stand_ins) for v in value]
    return value


def _convert(value: Any, key: str = "", stand_ins: dict[str, str] | None = None) -> tuple[str, bool, Any]:
    """Return (string for the runtime, is secret, value for display)."""
    runtime_value, is_secret = _replace_secure(value, key, stand_ins if stand_ins is not None else {})
    shown = MASK if is_secret else _plain(value)
    if isinstance(runtime_value, (dict, list)):
        return json.dumps(runtime_value, sort_keys=True, separators=(",", ":"), default=str), is_secret, shown
    if isinstance(runtime_value, bool):
        return ("true" if runtime_value else "false"), is_secret, shown
    if runtime_value is None:
        return "", is_secret, shown
    return str(runtime_value), is_secret, shown


def _plain(value: Any) -> Any:
    """YAML value with non-JSON scalars (dates) turned into strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)
