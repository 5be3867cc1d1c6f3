"""`serving`: TF Serving replicas and pods, the same in both regions."""

from __future__ import annotations

import ipaddress
from typing import Literal

from pydantic import field_validator, model_validator

from recsys_dr.components.serving.manifests import DEFAULT_FETCHER_IMAGE, DEFAULT_SERVING_IMAGE
from recsys_dr.components.settings.aws_limits import ACM_ARN_PATTERN, CPU_QUANTITY, MEMORY_QUANTITY
from recsys_dr.components.settings.base import INT32_MAX, Settings, problem, setting
from recsys_dr.components.settings.regions import ROLES
from recsys_dr.policy.rules.cidrs import MAX_PUBLIC_SHARE_TEXT, coverage

REPLICA_LIMIT = "Kubernetes replica counts are int32"


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

    min_replicas: int = setting(1, description="HPA minimum (and a warm standby's running replicas).",
                                allowed="an integer >= 1", ge=1, le=INT32_MAX, limit=REPLICA_LIMIT)
    max_replicas: int = setting(4, description="HPA maximum; the GPU pool must hold it.",
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
        "internet-facing", description="internet-facing: a public NLB; internal: an NLB in the private subnets, and the "
        "failover follows CloudWatch alarms on its healthy targets (Route 53 cannot probe private endpoints).",
        allowed="one of: internet-facing, internal",
    )
    allowed_cidrs: list[str] = setting(
        default_factory=list, description="IPv4 networks that may call the endpoint (the NLB's source ranges; Route 53's "
        "health-checker ranges are added for an internet-facing NLB). Required for an internet-facing endpoint and in prod; "
        f"together the CIDRs may cover at most {MAX_PUBLIC_SHARE_TEXT} of the public IPv4 space.",
        allowed=f"a list of IPv4 CIDRs such as [203.0.113.0/24], covering at most {MAX_PUBLIC_SHARE_TEXT} of the public IPv4 space",
    )

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
        # YAML reads `cpu: 3` as a number; Kubernetes takes both forms.
        if isinstance(value, bool) or not isinstance(value, (str, int)) or not CPU_QUANTITY.fullmatch(str(value)):
            raise problem(f'`{{key}}` must be a Kubernetes CPU quantity such as "3" or "1500m". Received: {value!r}')
        return str(value)

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
