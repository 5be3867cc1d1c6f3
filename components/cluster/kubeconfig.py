"""Kubeconfig for an EKS cluster, authenticating through `aws eks get-token`."""

from __future__ import annotations


def eks_kubeconfig(*, cluster_name: str, endpoint: str, certificate_authority: str, region: str) -> dict:
    """A kubeconfig dict for one cluster; the token is fetched per call by the AWS CLI.

    Args:
        cluster_name: EKS cluster name.
        endpoint: API server URL.
        certificate_authority: base64 CA bundle from the cluster.
        region: the cluster's region; passed to the CLI so the token is signed there.
    """
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": {"server": endpoint, "certificate-authority-data": certificate_authority}}],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": cluster_name}}],
        "current-context": cluster_name,
        "users": [{
            "name": cluster_name,
            "user": {
                "exec": {
                    "apiVersion": "client.authentication.k8s.io/v1beta1",
                    "command": "aws",
                    "args": ["eks", "get-token", "--cluster-name", cluster_name, "--region", region, "--output", "json"],
                    "interactiveMode": "Never",
                }
            },
        }],
    }
