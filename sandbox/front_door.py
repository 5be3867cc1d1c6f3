"""The front door's target group as the sandbox plays it: the AWS Load Balancer Controller's
TargetGroupBinding, and Elastic Load Balancing's target health.

moto stores target groups, their targets and which load balancer forwards to a group, but answers
`DescribeTargetHealth` with `healthy` for every registered IP target, probed or not, in use by a
balancer or not (moto `elbv2/models.py` `FakeTargetGroup.health_for`). The sandbox answers each
registered target by the documented rules (ELB API reference, `TargetHealth`; the descriptions as
botocore's `elbv2` examples and the AWS CLI's `describe-target-health` examples print them):

* a group no listener forwards to: `unused`, `Target.NotInUse`;
* health checks disabled: `unavailable`, `Target.HealthCheckDisabled`;
* otherwise the group's health check (`HealthCheckPath` on the target) decides: a status its
  `Matcher` lists is `healthy`, another is `unhealthy` with `Target.ResponseCodeMismatch`, no
  answer is `unhealthy` with `Target.FailedHealthChecks`.

Which pods are targets is the controller's rule (kubernetes-sigs/aws-load-balancer-controller
`pkg/backend/endpoint_resolver.go`, `resolvePodEndpointsWithEndpointsData`): a pod is registered
when it is Ready or, with the pod readiness gate the serving namespace enables, when its containers
are Ready on a Ready node. A Pending pod, or one whose TF Serving is still loading, is no target: a
pilot-light standby at rest has none, and each pod an activation brings up becomes one.

Like the Route 53 checkers (`sandbox.route53`) the sandbox checks when asked: no `initial` phase
(HealthyThresholdCount x interval) and no `draining` one (the deregistration delay).
"""

from __future__ import annotations

import ipaddress
import threading
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any, Callable

XMLNS = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"
NOT_IN_USE = "Target group is not configured to receive traffic from the load balancer"
CHECKS_DISABLED = "Health checks are not enabled for this target"
FIRST_POD_HOST = 10
"""Pods' IPs start at this host of the subnet (AWS reserves a subnet's first four addresses)."""


def code_matches(status: int, matcher: str) -> bool:
    """An HTTP status against a target group's `Matcher.HttpCode`: "200", "200,202" or "200-299"."""
    for part in matcher.split(","):
        low, _, high = part.strip().partition("-")
        if int(low) <= status <= int(high or low):
            return True
    return False


def target_health(group: dict[str, Any], check: Callable[[str], int | None]) -> dict[str, str]:
    """One registered target's `TargetHealth`.

    Args:
        group: the target group as `DescribeTargetGroups` answers it.
        check: callable(path) -> the HTTP status the target answers on `path`, None when it does not answer.
    """
    if not group.get("LoadBalancerArns"):
        return {"State": "unused", "Reason": "Target.NotInUse", "Description": NOT_IN_USE}
    if not group.get("HealthCheckEnabled", True):
        return {"State": "unavailable", "Reason": "Target.HealthCheckDisabled", "Description": CHECKS_DISABLED}
    status = check(group.get("HealthCheckPath") or "/")
    if status is None:
        return {"State": "unhealthy", "Reason": "Target.FailedHealthChecks", "Description": "Health checks failed"}
    if code_matches(status, (group.get("Matcher") or {}).get("HttpCode", "200")):
        return {"State": "healthy"}
    return {"State": "unhealthy", "Reason": "Target.ResponseCodeMismatch",
            "Description": f"Health checks failed with these codes: [{status}]"}


def balancer_healthy(target_states: list[list[str]]) -> bool:
    """An Application Load Balancer's health for a Route 53 alias with EvaluateTargetHealth, from
    the target states of each of its target groups: every group needs a healthy target, and a group
    without targets counts as unhealthy (Route 53 API reference, `AliasTarget.EvaluateTargetHealth`,
    "Application and Network Load Balancers")."""
    return bool(target_states) and all("healthy" in states for states in target_states)


def rewrite_target_health_xml(body: bytes, health: Callable[[dict[str, str]], dict[str, str]]) -> bytes:
    """moto's `DescribeTargetHealth` answer with each description's `TargetHealth` from `health(target)`."""
    ET.register_namespace("", XMLNS)
    root = ET.fromstring(body)
    ns = {"elb": XMLNS}
    for member in root.iterfind(".//elb:TargetHealthDescriptions/elb:member", ns):
        target = {child.tag.split("}")[1]: child.text or "" for child in member.iterfind("elb:Target/*", ns)}
        for old in member.findall("elb:TargetHealth", ns):
            member.remove(old)
        new = ET.SubElement(member, f"{{{XMLNS}}}TargetHealth")
        for key, value in health(target).items():
            ET.SubElement(new, f"{{{XMLNS}}}{key}").text = value
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


@dataclass(kw_only=True)
class TargetGroupBinding:
    """One TargetGroupBinding (target type ip): keeps its target group's targets equal to the serving pods.

    Args:
        elbv2: callable() -> a boto3 ELBv2 client of the sandbox in the group's Region.
        target_group_arn: str, the bound group.
        pods: callable() -> int, pods whose containers are Ready on Ready nodes (`FakeKube.available_pods`).
        pod_cidr: str, the subnet the pods' IPs come from.
        port: int, the Service's target port (TF Serving's REST port).
        answer: callable(path) -> the HTTP status a pod answers on `path` (`FakeServing.pod_answer`),
            or None when it does not answer.
    """

    elbv2: Callable[[], Any]
    target_group_arn: str
    pods: Callable[[], int]
    pod_cidr: str
    port: int
    answer: Callable[[str], int | None]
    registered: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pod_ips(self) -> list[str]:
        hosts = ipaddress.ip_network(self.pod_cidr)
        return [str(hosts[FIRST_POD_HOST + i]) for i in range(self.pods())]

    def reconcile(self) -> None:
        """Register the pods that became targets and deregister the ones gone, as the controller does."""
        with self.lock:
            wanted = set(self.pod_ips())
            added, gone = sorted(wanted - self.registered), sorted(self.registered - wanted)
            client = self.elbv2()
            if added:
                client.register_targets(TargetGroupArn=self.target_group_arn,
                                        Targets=[{"Id": ip, "Port": self.port} for ip in added])
            if gone:
                client.deregister_targets(TargetGroupArn=self.target_group_arn,
                                          Targets=[{"Id": ip, "Port": self.port} for ip in gone])
            self.registered = wanted

    def check(self, target: dict[str, str], path: str) -> int | None:
        """The status target `target` answers on `path` (every pod runs the same TF Serving stand-in)."""
        if target.get("Id") not in self.registered:
            return None
        return self.answer(path)
