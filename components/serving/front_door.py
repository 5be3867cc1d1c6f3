"""FrontDoor: one region's Application Load Balancer, its security group, target group,
listener and rules, and the web ACL on it (AWS WAF v2).

Pulumi owns the balancer, so its ARN, DNS name and zone are known to the program (alias
records, the web ACL association, CloudWatch dimensions for scaling and alarms) and nothing is
left behind on `pulumi destroy`. The pods join the target group through the AWS Load Balancer
Controller's TargetGroupBinding (`ModelServing`); rules and data live in `balancer`,
`web_acl`, `exposure` and `request_size`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from recsys_dr.components.serving import balancer, exposure
from recsys_dr.components.serving.manifests import REST_PORT
from recsys_dr.components.serving.request_size import body_limit
from recsys_dr.components.serving.web_acl import ACL_SCOPE, web_acl_rules
from recsys_dr.components.settings.aws_limits import HEALTH_CHECKER_REGIONS
from recsys_dr.components.settings.model import ModelSettings
from recsys_dr.components.settings.serving import ServingSettings

OPEN = "0.0.0.0/0"


@dataclass(frozen=True, kw_only=True)
class FrontDoorArgs:
    """What the front door serves and admits (plain, validated values).

    Attributes:
        region: region of the balancer and its web ACL.
        model: the model settings (name for the paths, request shape for the body limit).
        serving: the serving settings (exposure, allowed CIDRs, web ACL settings).
        tls_certificate_arn: ACM certificate in `region`: HTTPS on 443 only. Default none: HTTP on 80.
        health_checker_regions: Route 53 checker regions whose ranges an internet-facing balancer
            admits beside `serving.allowedCidrs`. Default: Route 53's set.
        candidate_version: the version pinned as this region's candidate: requests carrying
            `balancer.CANDIDATE_HEADER` with it go to the canary target group. Default none (no such rules).
        tags: tags on every taggable resource. Default none.
    """

    region: str
    model: ModelSettings
    serving: ServingSettings
    tls_certificate_arn: str | None = None
    health_checker_regions: tuple[str, ...] = ()
    candidate_version: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class FrontDoorWiring:
    """Outputs of the cluster the balancer serves.

    Attributes:
        vpc_id: the cluster's VPC (target group and security group).
        subnet_ids: where the balancer's nodes live: public subnets for internet-facing, the
            private ones for internal.
        target_security_group_id: the security group of the nodes' network interfaces (the EKS
            cluster security group for managed node groups), which the pods' IPs use.
    """

    vpc_id: pulumi.Input[str]
    subnet_ids: pulumi.Input[Sequence[str]]
    target_security_group_id: pulumi.Input[str]


class FrontDoor(pulumi.ComponentResource):
    """ALB (its own security group), two ip target groups on TF Serving's REST port (the stable
    pods' and the canary's), one client listener that forwards the prediction and the status call
    only, weighted between the two groups, and a regional web ACL."""

    load_balancer: aws.lb.LoadBalancer
    target_group: aws.lb.TargetGroup
    canary_target_group: aws.lb.TargetGroup
    web_acl: aws.wafv2.WebAcl
    rules: list[aws.lb.ListenerRule]

    def __init__(self, name: str, args: FrontDoorArgs, wiring: FrontDoorWiring, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("recsys-dr:components:FrontDoor", name, None, opts)
        tls = args.tls_certificate_arn is not None
        port = balancer.client_port(tls=tls)
        if not tls:
            pulumi.log.warn(
                f"no TLS certificate for {args.region}: the balancer listens on plain HTTP (port {port}), so queries, "
                "histories and recommendations cross the network in clear text (`serving.tlsCertificateArns`)",
                resource=self,
            )
        self._security_groups(name, args, wiring, port)
        self._balancer(name, args, wiring)
        self._listener(name, args, tls)
        self.web_acl = self._web_acl(name, args, dict(args.tags))
        aws.wafv2.WebAclAssociation(
            f"{name}-waf", region=args.region, resource_arn=self.load_balancer.arn, web_acl_arn=self.web_acl.arn,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.scheme = "https" if tls else "http"
        self.port = port
        self.register_outputs({
            "loadBalancerArn": self.load_balancer.arn,
            "dnsName": self.load_balancer.dns_name,
            "zoneId": self.load_balancer.zone_id,
            "targetGroupArn": self.target_group.arn,
            "canaryTargetGroupArn": self.canary_target_group.arn,
            "ruleArns": [rule.arn for rule in self.rules],
            "webAclArn": self.web_acl.arn,
            "scheme": self.scheme,
            "port": self.port,
        })

    def _security_groups(self, name: str, args: FrontDoorArgs, wiring: FrontDoorWiring, port: int) -> None:
        """The balancer's own group (clients in on `port`, out to TF Serving only) and the nodes' rule admitting it."""
        child, region, tags = pulumi.ResourceOptions(parent=self), args.region, dict(args.tags)
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-alb", region=region, vpc_id=wiring.vpc_id,
            description=f"{args.model.name} serving balancer: clients on {port}, out to TF Serving only",
            ingress=self._source_ranges(args).apply(lambda ranges: [{
                "protocol": "tcp", "from_port": port, "to_port": port, "cidr_blocks": ranges,
                "description": "serving.allowedCidrs and Route 53 health checkers" if ranges != [OPEN] else "open (no allowedCidrs)",
            }]),
            egress=[{"protocol": "tcp", "from_port": REST_PORT, "to_port": REST_PORT,
                     "security_groups": [wiring.target_security_group_id], "description": "TF Serving REST on the pods"}],
            tags={**tags, "Name": f"{name}-alb"}, opts=child,
        )
        # The pods' IPs sit on the nodes' interfaces: their group admits the balancer, on 8501 only.
        aws.vpc.SecurityGroupIngressRule(
            f"{name}-to-pods", region=region, security_group_id=wiring.target_security_group_id,
            referenced_security_group_id=self.security_group.id, ip_protocol="tcp", from_port=REST_PORT, to_port=REST_PORT,
            description=f"{name}: balancer to TF Serving REST", tags=tags, opts=child,
        )

    def _balancer(self, name: str, args: FrontDoorArgs, wiring: FrontDoorWiring) -> None:
        """The ALB and its two target groups, the stable pods' and the canary's."""
        child, region, tags = pulumi.ResourceOptions(parent=self), args.region, dict(args.tags)
        self.load_balancer = aws.lb.LoadBalancer(
            f"{name}-alb", region=region, name_prefix=balancer.NAME_PREFIX, load_balancer_type="application",
            internal=args.serving.exposure == "internal", subnets=wiring.subnet_ids, security_groups=[self.security_group.id],
            # Invalid header fields are dropped, not forwarded (control ELB.4 of Security Hub's AWS
            # Foundational Security Best Practices).
            drop_invalid_header_fields=True, tags=tags, opts=child,
        )
        self.target_group = aws.lb.TargetGroup(
            f"{name}-targets", region=region, name_prefix=balancer.NAME_PREFIX, vpc_id=wiring.vpc_id,
            **balancer.target_group(args.model.name), tags=tags, opts=child,
        )
        # Empty unless a candidate is pinned; always in the rules, so their shape never changes.
        self.canary_target_group = aws.lb.TargetGroup(
            f"{name}-canary", region=region, name_prefix=balancer.NAME_PREFIX, vpc_id=wiring.vpc_id,
            **balancer.target_group(args.model.name), tags={**tags, "recsys-dr:slot": "candidate"}, opts=child,
        )

    def _listener(self, name: str, args: FrontDoorArgs, tls: bool) -> None:
        """The client listener, its weighted rules for the served paths, and the candidate's own rules."""
        child, region, tags = pulumi.ResourceOptions(parent=self), args.region, dict(args.tags)
        self.listener = aws.lb.Listener(
            f"{name}-{'https' if tls else 'http'}", region=region, load_balancer_arn=self.load_balancer.arn,
            **balancer.listener(tls_certificate_arn=args.tls_certificate_arn), tags=tags, opts=child,
        )
        self.rules = [
            aws.lb.ListenerRule(
                f"{name}-rule-{rule['priority']}", region=region, listener_arn=self.listener.arn, priority=rule["priority"],
                conditions=rule["conditions"], actions=balancer.weighted_forward(self.target_group.arn, self.canary_target_group.arn),
                tags=tags,
                # The weights belong to `recsys-dr release` once the rule exists: `pulumi up` never resets a share.
                opts=pulumi.ResourceOptions(parent=self, ignore_changes=[balancer.WEIGHTS_OWNED_BY_RELEASE]),
            )
            for rule in balancer.listener_rules(args.model.name)
        ]
        self.candidate_rules = [
            aws.lb.ListenerRule(
                f"{name}-candidate-{rule['priority']}", region=region, listener_arn=self.listener.arn,
                priority=rule["priority"], conditions=rule["conditions"],
                actions=[{"type": "forward", "target_group_arn": self.canary_target_group.arn}], tags=tags, opts=child,
            )
            for rule in (balancer.candidate_rules(args.model.name, args.candidate_version)
                         if args.candidate_version is not None else [])
        ]

    def _web_acl(self, name: str, args: FrontDoorArgs, tags: dict) -> aws.wafv2.WebAcl:
        model, waf = args.model, args.serving.waf
        limit = body_limit(max_batch=model.max_batch, history_length=model.history_length,
                           item_id_bytes=model.max_item_id_bytes, query_bytes=model.max_query_bytes)
        rules = web_acl_rules(model_name=model.name, body_limit=limit, rate_limit=waf.rate_limit,
                              rate_window_seconds=waf.rate_window_seconds, common_rule_set=waf.common_rule_set,
                              metric_prefix=name)
        return aws.wafv2.WebAcl(
            f"{name}-acl", region=args.region, scope=ACL_SCOPE, default_action={"allow": {}},
            description=f"{model.name} serving: status checks, body size, rate per IP, AWS common rules",
            rule_json=json.dumps(rules), visibility_config={
                "cloudwatch_metrics_enabled": True, "metric_name": f"{name}-acl", "sampled_requests_enabled": True,
            }, tags=tags, opts=pulumi.ResourceOptions(parent=self),
        )

    def _source_ranges(self, args: FrontDoorArgs) -> pulumi.Output[list[str]]:
        """`serving.allowedCidrs`, plus Route 53's checker ranges for an internet-facing balancer
        (they probe the endpoint from the internet). No allowed CIDRs is refused for an internet-facing
        balancer (`ServingSettings.open_endpoint_problems`); an internal one then admits every
        address that can route to its private subnets."""
        serving = args.serving
        if not serving.allowed_cidrs:
            return pulumi.Output.from_input([OPEN])
        if serving.exposure == "internal":
            return pulumi.Output.from_input(sorted(set(serving.allowed_cidrs)))
        checkers = aws.get_ip_ranges_output(
            services=[exposure.ROUTE53_HEALTHCHECKS],
            regions=exposure.checker_range_regions(args.health_checker_regions or sorted(HEALTH_CHECKER_REGIONS)),
            opts=pulumi.InvokeOutputOptions(parent=self),
        )
        return checkers.cidr_blocks.apply(lambda blocks: sorted(set(serving.allowed_cidrs) | set(blocks)))

