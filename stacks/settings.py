"""Read and validate a stack's configuration, once, before any resource exists.

The declarations live with the components (`recsys_dr.components.settings`, one file per
stack-file section); this module only reads `pulumi.Config`, refuses keys of namespaces
nothing reads, and reports every problem together. Each message names the key (as it is
written in `Pulumi.<env>.yaml`), the value received and what is allowed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.runtime import config as pulumi_config

from recsys_dr.components.settings import SettingsError, TwoRegionRecommenderArgs, parse_settings
from recsys_dr.policy.rules.cidrs import coverage
# Stacks held to the production rules (closed endpoint, TLS, private EKS API): by name, as the policy rules tell them.
from recsys_dr.policy.rules.core import is_production

NAMESPACE = "recsys-dr"
# Namespaces whose keys something in this program reads: ours, the providers' and Pulumi's own.
KNOWN_NAMESPACES = (NAMESPACE, "aws", "kubernetes", "pulumi")


class ConfigError(SettingsError):
    """The stack configuration is invalid; `problems` lists every finding."""

    def __init__(self, stack: str, problems: list[str]) -> None:
        super().__init__(f"configuration for stack '{stack}'", problems)


@dataclass(frozen=True)
class StackSettings:
    """The validated configuration: the component's args and the environment they are for."""

    environment: str
    args: TwoRegionRecommenderArgs

    @property
    def failover_budget_target(self) -> int | None:
        return self.args.dns.failover_budget_target


def load_settings(raw: Mapping[str, Any], environment: str, *, foreign_keys: list[str] | None = None) -> StackSettings:
    """Validate raw configuration values and build the component arguments.

    Args:
        raw: top-level config keys without the namespace (`{"gpu": {...}, ...}`), values
            already decoded (objects as dicts).
        environment: the stack name, used in messages and the `environment` tag.
        foreign_keys: keys of namespaces nothing reads (from `read_config`), reported too.

    Raises:
        ConfigError: listing every problem found.
    """
    foreign = [_foreign_key_problem(key) for key in foreign_keys or []]
    try:
        args = parse_settings(dict(raw), key_prefix=f"{NAMESPACE}:", subject="configuration")
    except SettingsError as error:
        raise ConfigError(environment, foreign + error.problems) from None
    production = production_problems(args, environment)
    if foreign or production:
        raise ConfigError(environment, foreign + production)
    args = args.model_copy(update={"tags": {"environment": environment, **args.tags}})
    return StackSettings(environment=environment, args=args)


def production_problems(args: TwoRegionRecommenderArgs, environment: str) -> list[str]:
    """A production stack serves only named networks, over TLS, and its EKS API is private
    (the same rule as the mandatory policy `eks-api-not-public-prod`)."""
    if not is_production(environment):
        return []
    problems = []
    if not args.serving.allowed_cidrs:
        problems.append(
            f"`{NAMESPACE}:serving.allowedCidrs` is required in {environment}: list the networks that may call the "
            "endpoint (Route 53's checker ranges are added to an internet-facing one). Received: none"
        )
    if args.serving.tls_certificate_arns is None:
        problems.append(
            f"`{NAMESPACE}:serving.tlsCertificateArns` is required in {environment}: scores must not cross networks "
            "in clear text. Received: none (TLS off)"
        )
    api = coverage(args.cluster.public_access_cidrs)
    if api.public:
        problems.append(
            f"`{NAMESPACE}:cluster.publicAccessCidrs` must hold no public address in {environment}: the EKS API is reached "
            f"from inside the VPC (VPN, peering, a runner in the VPC); leave it empty. Received: "
            f"{args.cluster.public_access_cidrs!r} (public: {api.public_text()})"
        )
    return problems


def _foreign_key_problem(key: str) -> str:
    namespace, _, name = key.partition(":")
    return (
        f"`{key}` is in namespace `{namespace}`, which nothing in this program reads "
        f"(known: {', '.join(KNOWN_NAMESPACES)}). Did you mean `{NAMESPACE}:{name}`?"
    )


def read_config(config: pulumi.Config) -> tuple[dict[str, Any], list[str]]:
    """Raw values of every `recsys-dr:` key the stack sets (objects decoded), and the keys of
    namespaces nothing reads (a typo such as `recsys_dr:standbyMode` is reported, not ignored).
    """
    prefix = f"{NAMESPACE}:"
    keys = set(pulumi_config.CONFIG.get()) | set(pulumi_config.get_config_env())
    foreign = sorted(k for k in keys if k.split(":", 1)[0] not in KNOWN_NAMESPACES)
    raw: dict[str, Any] = {}
    for name in sorted(k[len(prefix):] for k in keys if k.startswith(prefix)):
        try:
            value = config.get_object(name)
        except pulumi.ConfigTypeError:
            value = config.get(name)
        # Pulumi passes scalars as text: keep a plain string unless it decoded to an object or list.
        raw[name] = value if isinstance(value, (dict, list)) else config.get(name)
    return raw, foreign
