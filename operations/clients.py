"""boto3 clients per (service, region) with bounded retries and timeouts.

During a regional outage the calls into the failed region must fail fast instead of
hanging the command: every client gets connect/read timeouts and botocore's `standard`
retry mode with a small attempt budget. Route 53 is a global service whose control plane
lives in us-east-1, so it is always addressed there.

`endpoint_url` (the `--endpoint-url` option) points every AWS client except the ARC
data plane at one endpoint, e.g. a `moto_server` on 127.0.0.1 for tests and demos; the
ARC data-plane clients always use the cluster endpoints from the stack outputs. Without it,
botocore's own `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>` apply the same way (botocore
>= 1.31, "service-specific endpoints"): `recsys-dr sandbox`'s `env` file uses that.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROUTE53_REGION = "us-east-1"
"""Route 53 (and its health-check status API) is global; its API is served from us-east-1."""


@dataclass(kw_only=True)
class ClientFactory:
    """Creates and caches boto3 clients.

    Args:
        endpoint_url: str | None, override for every AWS API except the ARC data plane
            (moto_server in tests). Default None (real AWS endpoints).
        profile: str | None, AWS profile name for the boto3 session. Default None
            (environment / default credential chain).
        connect_timeout: float, seconds to open a connection. Default 3.
        read_timeout: float, seconds to wait for a response. Default 10.
        max_attempts: int, total attempts per call including the first (botocore
            `standard` retry mode). Default 3.
        session: boto3.session.Session | None, session to create clients from. Default
            None (a new session, using `profile`).
    """

    endpoint_url: str | None = None
    profile: str | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 10.0
    max_attempts: int = 3
    session: Any = field(default=None, repr=False)
    _cache: dict[tuple[str, str], Any] = field(default_factory=dict, repr=False)

    def _boto_session(self):
        if self.session is None:
            import boto3

            self.session = boto3.session.Session(profile_name=self.profile)
        return self.session

    def config(self, *, max_attempts: int | None = None):
        from botocore.config import Config

        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"mode": "standard", "total_max_attempts": max_attempts or self.max_attempts},
        )

    def client(self, service: str, region: str):
        """A cached client for `service` in `region` (the region that owns the resource)."""
        key = (service, region)
        if key not in self._cache:
            kwargs: dict[str, Any] = {"region_name": region, "config": self.config()}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            self._cache[key] = self._boto_session().client(service, **kwargs)
        return self._cache[key]

    def set_client(self, service: str, region: str, client: Any) -> None:
        """Use `client` for (service, region) from now on (tests inject fakes/Stubber clients)."""
        self._cache[(service, region)] = client

    def s3(self, region: str):
        return self.client("s3", region)

    def eks(self, region: str):
        return self.client("eks", region)

    def cloudwatch(self, region: str):
        return self.client("cloudwatch", region)

    def elbv2(self, region: str):
        return self.client("elbv2", region)

    def route53(self):
        return self.client("route53", ROUTE53_REGION)

    def sts(self, region: str):
        """STS in `region` (its regional endpoint): EKS tokens for a cluster need nothing from another Region."""
        return self.client("sts", region)  # botocore's default STS endpoint is the regional one

    def kube(self, region: str, cluster_name: str):
        """A `KubeApi` for an EKS cluster (endpoint and CA from DescribeCluster, token from regional STS)."""
        from recsys_dr.operations.kube import connect

        key = ("kube@" + cluster_name, region)
        if key not in self._cache:
            self._cache[key] = connect(self.eks(region), self.sts(region), cluster_name, timeout=self.read_timeout)
        return self._cache[key]

    def arc_region_switch(self, region: str):
        """An `arc-region-switch` client in `region`, one attempt per call (`operations.region_switch`
        moves on to the plan's other Region instead of retrying)."""
        key = ("arc-region-switch", region)
        if key not in self._cache:
            kwargs: dict[str, Any] = {"region_name": region, "config": self.config(max_attempts=1)}
            if self.endpoint_url:
                kwargs["endpoint_url"] = self.endpoint_url
            self._cache[key] = self._boto_session().client("arc-region-switch", **kwargs)
        return self._cache[key]

    def check_profile(self) -> None:
        """Create the session now, so an unknown `--profile` is reported before anything runs.

        Raises:
            ValueError: one line naming the profile and the ones that exist.
        """
        import botocore.session
        from botocore.exceptions import ProfileNotFound

        if self.profile is None or self.session is not None:
            return
        known = sorted(botocore.session.Session().available_profiles)
        problem = ValueError(f"--profile {self.profile!r} is not in your AWS config or credentials files; "
                             f"known profiles: {', '.join(known) or 'none'}")
        if self.profile not in known:  # boto3 only raises ProfileNotFound later, on first use
            raise problem
        try:
            self._boto_session()
        except ProfileNotFound:
            raise problem from None

    def arc_cluster(self, region: str, endpoint_url: str):
        """A `route53-recovery-cluster` client for one ARC cluster endpoint.

        One attempt per call: `operations.arc` moves on to the next cluster endpoint
        instead of retrying a failing one.
        """
        key = ("route53-recovery-cluster@" + endpoint_url, region)
        if key not in self._cache:
            self._cache[key] = self._boto_session().client(
                "route53-recovery-cluster",
                region_name=region,
                endpoint_url=endpoint_url,
                config=self.config(max_attempts=1),
            )
        return self._cache[key]
