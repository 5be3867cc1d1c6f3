"""IAM policy documents of the cluster's own controllers."""

from __future__ import annotations

from collections.abc import Sequence


def cluster_autoscaler_policy(*, cluster_name: str, region: str) -> dict:
    """Cluster Autoscaler: discover everywhere (those Describe calls take no resource ARN),
    read only this cluster's node groups, and resize only Auto Scaling groups in `region`
    that are tagged as owned by this cluster."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Discover",
                "Effect": "Allow",
                "Action": [
                    "autoscaling:DescribeAutoScalingGroups",
                    "autoscaling:DescribeAutoScalingInstances",
                    "autoscaling:DescribeLaunchConfigurations",
                    "autoscaling:DescribeScalingActivities",
                    "autoscaling:DescribeTags",
                    "ec2:DescribeImages",
                    "ec2:DescribeInstanceTypes",
                    "ec2:DescribeLaunchTemplateVersions",
                    "ec2:GetInstanceTypesFromInstanceRequirements",
                ],
                "Resource": "*",
            },
            {
                # Scale-from-zero reads labels and taints of managed node groups here.
                "Sid": "DescribeOwnNodegroups",
                "Effect": "Allow",
                "Action": "eks:DescribeNodegroup",
                "Resource": f"arn:aws:eks:{region}:*:nodegroup/{cluster_name}/*",
            },
            {
                "Sid": "ScaleOwnGroups",
                "Effect": "Allow",
                "Action": ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"],
                "Resource": f"arn:aws:autoscaling:{region}:*:autoScalingGroup:*:autoScalingGroupName/*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/k8s.io/cluster-autoscaler/{cluster_name}": "owned"}},
            },
        ],
    }



# The AWS Load Balancer Controller here only binds pods to target groups Pulumi made
# (TargetGroupBinding; no Ingress, Service or Gateway for it to provision). Its stock policy
# (kubernetes-sigs/aws-load-balancer-controller docs/install/iam_policy.json) also creates,
# modifies and deletes load balancers, target groups, listeners, rules and security groups, edits
# security-group ingress, tags, creates the ELB service-linked role, reads ACM, Cognito and IAM
# certificates and (dis)associates WAF and Shield: none of that is granted.
LOAD_BALANCER_CONTROLLER_READS = (
    # The TargetGroupBinding webhooks look the target group up (webhooks/elbv2/targetgroup_helper.go);
    # the reconciler reads its targets' health (pkg/targetgroupbinding/targets_manager.go), the
    # VPC's CIDRs to tell a pod IP's zone (resource_manager.go `generateOverrideAzFn` ->
    # pkg/networking/vpc_info_provider.go) and the cluster's endpoint security groups, which its
    # networking manager lists even with no `networking` rules (pkg/networking/networking_manager.go
    # `fetchEndpointSGsFromAWS`). These Describe calls take no resource ARN.
    "elasticloadbalancing:DescribeTargetGroups",
    "elasticloadbalancing:DescribeTargetHealth",
    "ec2:DescribeVpcs",
    "ec2:DescribeSecurityGroups",
)
LOAD_BALANCER_CONTROLLER_WRITES = ("elasticloadbalancing:RegisterTargets", "elasticloadbalancing:DeregisterTargets")


def load_balancer_controller_policy(*, region: str) -> dict:
    """The controller's own role: reads only, in `region`. Each serving component adds
    `target_group_binding_policy` for the target groups it binds (the stable pods' and the canary's)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "ReadTargetsAndNetwork", "Effect": "Allow", "Action": list(LOAD_BALANCER_CONTROLLER_READS),
                       "Resource": "*", "Condition": {"StringEquals": {"aws:RequestedRegion": region}}}],
    }


def target_group_binding_policy(*, target_group_arns: Sequence[str]) -> dict:
    """Register and deregister targets of these target groups only (the actions take their ARNs)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "BindTargetGroup", "Effect": "Allow", "Action": list(LOAD_BALANCER_CONTROLLER_WRITES),
                       "Resource": sorted(target_group_arns)}],
    }


def keda_operator_policy(*, region: str) -> dict:
    """KEDA's aws-cloudwatch scaler calls GetMetricData only (kedacore/keda pkg/scalers/
    aws_cloudwatch_scaler.go); CloudWatch defines no resource type for it, so the region is the
    only scope (Service Authorization Reference, Amazon CloudWatch)."""
    return {
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "ReadMetrics", "Effect": "Allow", "Action": "cloudwatch:GetMetricData", "Resource": "*",
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}},
        }],
    }


# Where the nodes' image pulls read S3 in their own region, so through the gateway endpoint:
# ECR keeps image layers in an AWS-owned bucket per region, which the endpoint policy must allow
# (Amazon ECR user guide, "Amazon ECR interface VPC endpoints", minimum Amazon S3 bucket
# permissions: s3:GetObject on arn:aws:s3:::prod-<region>-starport-layer-bucket/*); and
# registry.k8s.io (the Cluster Autoscaler image) redirects AWS clients' blob requests to a
# regional mirror bucket (kubernetes/registry.k8s.io cmd/archeio/internal/app/buckets.go,
# prod-registry-k8s-io-<region>). Docker Hub and public ECR serve layers from their CDNs.
IMAGE_LAYER_BUCKETS = ("prod-{region}-starport-layer-bucket", "prod-registry-k8s-io-{region}")


def s3_gateway_endpoint_policy(*, region: str, model_bucket_arns: list[str], partition: str = "aws") -> dict:
    """The S3 gateway endpoint's policy: read the model buckets and the image-layer buckets;
    nothing else, and no write anywhere. Every S3 request from the private subnets to S3 in
    `region` goes through the endpoint (its prefix-list route is more specific than the NAT's),
    so a pod cannot copy the model to a bucket of its choosing there."""
    statements = [{
        "Sid": "ImageLayers",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": [f"arn:{partition}:s3:::{bucket.format(region=region)}/*" for bucket in IMAGE_LAYER_BUCKETS],
    }]
    if model_bucket_arns:
        statements.insert(0, {
            "Sid": "ReadModels",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [arn for bucket in sorted(model_bucket_arns) for arn in (bucket, f"{bucket}/*")],
        })
    return {"Version": "2012-10-17", "Statement": statements}
