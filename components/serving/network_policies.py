"""NetworkPolicies of the serving namespace, as plain dicts: deny by default, then allow
exactly what a TF Serving pod and its verifying init container need.

Enforced by the VPC CNI's network policy agent once the add-on runs with
`enableNetworkPolicy: "true"` (see `cluster.addons.vpc_cni_configuration`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from recsys_dr.components.serving.manifests import REST_PORT

# EKS Pod Identity: the SDK/CLI fetch credentials from the node-local agent at this
# link-local address, port 80 (AWS_CONTAINER_CREDENTIALS_FULL_URI=http://169.254.170.23/v1/credentials).
POD_IDENTITY_AGENT = "169.254.170.23/32"
POD_IDENTITY_AGENT_PORT = 80
HTTPS_PORT = 443
DNS_PORT = 53
# CoreDNS as the EKS add-on labels it.
KUBE_DNS = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}


def default_deny_spec() -> dict:
    """Every pod of the namespace: no ingress, no egress, unless another policy allows it."""
    return {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def serving_policy_spec(*, selector: Mapping[str, str], balancer_cidrs: Sequence[str], s3_cidrs: Sequence[str]) -> dict:
    """What the serving pods may do.

    Ingress: REST (8501) from the balancer's subnets only. Its targets are pod IPs (target type
    ip), so requests and the target group's health checks come from the balancer's nodes, whose
    addresses lie in the subnets it was given; nothing else in the VPC may call the pods. The
    kubelet's probes need no rule: the VPC CNI's network policy agent always admits the pod's own
    node (aws/aws-network-policy-agent pull 65, "Ignore policy restrictions against Node IP").
    Egress: DNS to CoreDNS; the Pod Identity agent for credentials; HTTPS to the region's S3
    ranges (the init container reads the model; S3 does the KMS decryption server-side, so
    no KMS or STS endpoint is needed). TF Serving itself needs no egress.

    Raises ValueError on an empty CIDR list: an empty `from`/`to` matches every peer
    (NetworkPolicy API: "If this field is empty or missing, this rule matches all ...").
    """
    if not balancer_cidrs or not s3_cidrs:
        raise ValueError(f"balancer_cidrs and s3_cidrs must not be empty (an empty peer list allows everyone). "
                         f"Received: balancer_cidrs={list(balancer_cidrs)}, s3_cidrs={list(s3_cidrs)}")
    return {
        "podSelector": {"matchLabels": dict(selector)},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{
            "from": [{"ipBlock": {"cidr": cidr}} for cidr in sorted(set(balancer_cidrs))],
            "ports": [{"protocol": "TCP", "port": REST_PORT}],
        }],
        "egress": [
            {"to": [dict(KUBE_DNS)], "ports": [{"protocol": "UDP", "port": DNS_PORT}, {"protocol": "TCP", "port": DNS_PORT}]},
            {"to": [{"ipBlock": {"cidr": POD_IDENTITY_AGENT}}], "ports": [{"protocol": "TCP", "port": POD_IDENTITY_AGENT_PORT}]},
            {"to": [{"ipBlock": {"cidr": cidr}} for cidr in sorted(set(s3_cidrs))], "ports": [{"protocol": "TCP", "port": HTTPS_PORT}]},
        ],
    }
