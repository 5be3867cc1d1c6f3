"""`serving`: TF Serving replicas and pods, the same in both regions."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import field_validator, model_validator

from recsys_dr.components.serving.manifests import DEFAULT_FETCHER_IMAGE, DEFAULT_SERVING_IMAGE
from recsys_dr.components.settings.aws_limits import ACM_ARN_PATTERN, MEMORY_QUANTITY
from recsys_dr.components.settings.base import INT32_MAX, Settings, cpu_quantity, problem, setting
from recsys_dr.components.settings.regions import ROLES
from recsys_dr.policy.rules.cidrs import MAX_PUBLIC_SHARE_TEXT, coverage

REPLICA_LIMIT = "Kubernetes replica counts are int32"
# HPA behavior: "stabilizationWindowSeconds ... must be greater than or equal to zero and less
# than or equal to 3600 (one hour)" (Kubernetes API reference, HPAScalingRules).
STABILIZATION_LIMIT = "the HPA's stabilization window is at most 3600 s"
# AWS WAF rate-based rule: Limit 10 to 2,000,000,000; EvaluationWindowSec one of 60, 120, 300, 600
# (AWS WAF API reference, RateBasedStatement).
RATE_WINDOWS = (60, 120, 300, 600)
RATE_LIMIT = "AWS WAF rate-based rules take 10 to 2,000,000,000 requests"
# Half of what one replica served with batching at 8 concurrent one-row clients (525 req/s, p99
# 41 ms) in `python -m benchmarks.model_benchmark batching` on the scale benchmark's 100,000-item
# model, on the 2-core CPU of the benchmarks page, "Server-side batching": headroom for bursts and for the
# minute or two the balancer's metrics lag. A GPU serves more: measure and raise it.
DEFAULT_TARGET_REQUESTS_PER_SECOND = 250


class ScalingSettings(Settings):
    """How KEDA scales each serving Deployment: on the balancer's requests per replica, with a latency guard."""

    target_requests_per_second: int = setting(
        DEFAULT_TARGET_REQUESTS_PER_SECOND, description="Requests per second one replica should serve: KEDA sizes the "
        "Deployment to the target group's request rate divided by this (docs: Serving, \"Scaling on serving load\").",
        allowed="an integer from 1 to 100000", ge=1, le=100_000,
    )
    p99_latency_ms: int | None = setting(
        250, description="Latency guard: also scale out while the target group's p99 response time exceeds this. "
        "None: no guard.", allowed="an integer from 1 to 60000 milliseconds, or null", ge=1, le=60_000,
    )
    scale_down_stabilization_seconds: int = setting(
        300, description="Scale-down waits until the load has been lower this long (scale-up is immediate).",
        allowed="an integer from 0 to 3600 seconds", ge=0, le=3600, limit=STABILIZATION_LIMIT,
    )


class BatchingSettings(Settings):
    """TF Serving's server-side batching (`--enable_batching`); unset values are derived (docs: Serving, \"Server-side batching\")."""

    max_batch_size: int | None = setting(
        None, description="Most rows in one merged batch. Default: `model.maxBatch`.",
        allowed="an integer from 1 to 1024, at most model.maxBatch", ge=1, le=1024,
    )
    batch_timeout_micros: int = setting(
        2000, description="Longest a request waits for its batch to fill, in microseconds.",
        allowed="an integer from 0 to 1000000", ge=0, le=1_000_000,
    )
    num_batch_threads: int | None = setting(
        None, description="Batches run at once. Default: the serving container's CPU cores.",
        allowed="an integer from 1 to 256", ge=1, le=256,
    )
    max_enqueued_batches: int | None = setting(
        None, description="Batches that may wait; beyond them TF Serving answers UNAVAILABLE. Default: numBatchThreads.",
        allowed="an integer from 1 to 100000", ge=1, le=100_000,
    )
    rest_api_num_threads: int | None = setting(
        None, description="TF Serving's REST threads. Default: the larger of 4 per CPU core and 2 per batch row.",
        allowed="an integer from 1 to 4096", ge=1, le=4096,
    )


class WafSettings(Settings):
    """The web ACL on each region's balancer (AWS WAF v2, regional)."""

    rate_limit: int = setting(
        60_000, description="Requests one source IP may send per rate window before WAF blocks it (status checks exempt).",
        allowed="an integer from 10 to 2000000000", ge=10, le=2_000_000_000, limit=RATE_LIMIT,
    )
    rate_window_seconds: int = setting(300, description="Window of the rate-based rule in seconds.",
                                       allowed=f"one of: {', '.join(map(str, RATE_WINDOWS))}")
    common_rule_set: Literal["count", "block"] = setting(
        "count", description="AWSManagedRulesCommonRuleSet: count (log matches) or block them. Search queries are "
        "free text, so start with count and read the matches first.", allowed="one of: count, block",
    )

    @field_validator("rate_window_seconds")
    @classmethod
    def _window(cls, value: int) -> int:
        if value not in RATE_WINDOWS:
            raise problem(f"`{{key}}` must be one of: {', '.join(map(str, RATE_WINDOWS))}. Received: {value!r}")
        return value


class TlsCertificates(Settings):
    """One ACM certificate per region (ACM certificates are regional)."""

    primary: str = setting(description="ACM certificate ARN in the primary region.", allowed="an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)")
    standby: str = setting(description="ACM certificate ARN in the standby region.", allowed="an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)")

    @field_validator("primary", "standby")
    @classmethod
    def _arn(cls, value: str) -> str:
        if not ACM_ARN_PATTERN.match(value):
            raise problem(f"`{{key}}` must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>). Received: {value!r}")
        return value

    def region_of(self, role: str) -> str:
        return ACM_ARN_PATTERN.match(getattr(self, role)).group("region")


class ServingSettings(Settings):
    """TF Serving pods, their autoscaling bounds and the rollout."""

    min_replicas: int = setting(1, description="Fewest replicas KEDA keeps (and a warm standby's running replicas).",
                                allowed="an integer >= 1", ge=1, le=INT32_MAX, limit=REPLICA_LIMIT)
    max_replicas: int = setting(4, description="Most replicas KEDA may run; the GPU pool must hold them.",
                                allowed="an integer >= 1", ge=1, le=INT32_MAX, limit=REPLICA_LIMIT)
    image: str = setting(DEFAULT_SERVING_IMAGE, description="TF Serving GPU image.", allowed="a container image reference", min_length=1)
    fetcher_image: str = setting(DEFAULT_FETCHER_IMAGE, description="Image with the AWS CLI v2 and sha256sum for the verifying init container.",
                                 allowed="a container image reference", min_length=1)
    gpus_per_pod: int = setting(1, description="`nvidia.com/gpu` per serving pod.", allowed="an integer from 1 to 8", ge=1, le=8,
                                limit="the largest GPU instances have 8 GPUs")
    cpu: str = setting("3", description="CPU request and limit of the serving container.",
                             allowed='a Kubernetes CPU quantity such as "3" or "1500m"')
    memory: str = setting("12Gi", description="Memory request and limit of the serving container.",
                          allowed="a Kubernetes memory quantity such as 12Gi or 16384Mi", pattern=MEMORY_QUANTITY.pattern)
    tls_certificate_arns: TlsCertificates | None = setting(
        None, description="ACM certificate per region for HTTPS on 443; both or neither (clients must not lose TLS on failover).",
        allowed="an object with keys primary, standby",
    )
    await_rollout: bool = setting(True, description="`pulumi up` waits until new serving pods are ready.", allowed="true or false")
    exposure: Literal["internet-facing", "internal"] = setting(
        "internet-facing", description="internet-facing: a public Application Load Balancer; internal: one in the private "
        "subnets, and the failover follows CloudWatch alarms on its healthy targets (Route 53 cannot probe private endpoints).",
        allowed="one of: internet-facing, internal",
    )
    allowed_cidrs: list[str] = setting(
        default_factory=list, description="IPv4 networks that may call the endpoint (the balancer's security group; Route 53's "
        "health-checker ranges are added for an internet-facing one). Required for an internet-facing endpoint and in prod; "
        f"together the CIDRs may cover at most {MAX_PUBLIC_SHARE_TEXT} of the public IPv4 space.",
        allowed=f"a list of IPv4 CIDRs such as [203.0.113.0/24], covering at most {MAX_PUBLIC_SHARE_TEXT} of the public IPv4 space",
    )
    scaling: ScalingSettings = setting(default_factory=ScalingSettings, description="KEDA scaling on serving load.",
                                       allowed="an object")
    batching: BatchingSettings = setting(default_factory=BatchingSettings, description="TF Serving server-side batching.",
                                         allowed="an object")
    waf: WafSettings = setting(default_factory=WafSettings, description="The web ACL of each balancer.", allowed="an object")

    @field_validator("allowed_cidrs")
    @classmethod
    def _allowed_cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                network = ipaddress.ip_network(cidr)
            except ValueError:
                network = None
            # The in-tree NLB controller writes source ranges as IPv4 security-group rules only.
            if network is None or network.version != 4:
                raise problem(f"`{{key}}` must be a list of IPv4 CIDRs such as [203.0.113.0/24]. Received: {cidr!r}")
        covered = coverage(value)
        if covered.too_open:
            raise problem(f"`{{key}}` covers {covered.describe()}; at most {MAX_PUBLIC_SHARE_TEXT} is allowed: list the networks "
                          f"that may call the endpoint. Received: {value!r}")
        return value

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu(cls, value: object) -> str:
        return cpu_quantity(value)

    @model_validator(mode="before")
    @classmethod
    def _both_certificates(cls, data):
        certificates = data.get("tlsCertificateArns", data.get("tls_certificate_arns")) if isinstance(data, dict) else None
        if isinstance(certificates, dict) and set(certificates) != set(ROLES):
            raise problem(
                "`{key}.tlsCertificateArns` must map both primary and standby to an ACM certificate ARN "
                f"in that region (clients would lose TLS on failover). Received: {certificates!r}"
            )
        return data

    def open_endpoint_problems(self, key: str) -> list[str]:
        """An internet-facing endpoint admits only listed ranges: none listed would open it to
        0.0.0.0/0 (the controller's default), so it is refused; an internal one may list none."""
        if self.exposure == "internet-facing" and not self.allowed_cidrs:
            return [f"`{key}.allowedCidrs` must list the networks that may call an internet-facing endpoint (Route 53's "
                    f"checker ranges are added), or `{key}.exposure` must be internal. Received: allowedCidrs=[]"]
        return []

    @model_validator(mode="after")
    def _bounds(self) -> ServingSettings:
        if self.min_replicas > self.max_replicas:
            raise problem(
                f"`{{key}}.minReplicas` must be <= `{{key}}.maxReplicas`. Received: minReplicas={self.min_replicas}, maxReplicas={self.max_replicas}"
            )
        return self
