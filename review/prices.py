"""On-demand AWS prices the DR estimate uses (USD), per region, with the assumptions it states.

Source: the AWS public price pages (EC2 On-Demand Linux, Amazon EKS, Amazon VPC NAT gateway and
public IPv4, Elastic Load Balancing, AWS WAF, Amazon Route 53, Amazon ARC, Amazon S3 Replication
Time Control, AWS KMS, Amazon CloudWatch), read for this table on 2025-06-02 (PRICES_AS_OF). No price
API is called at plan time: the plan must run offline and stay reproducible. Refresh the table by
hand from those pages and change PRICES_AS_OF with it.

Only the regions listed in REGIONS have prices; the estimate says "no price for region X" for
any other. us-east-1, us-east-2 and us-west-2 publish the same on-demand rates for every item
below, which is why they share one rate card.
"""

from __future__ import annotations

PRICES_AS_OF = "2025-06-02"
SOURCE = ("AWS public price pages (EC2 On-Demand Linux, EKS, VPC, ELB, WAF, Route 53, ARC, S3 RTC, KMS, "
          "CloudWatch), read on " + PRICES_AS_OF)
HOURS_PER_MONTH = 730  # AWS's own convention on its price pages and in the Pricing Calculator

# EC2 On-Demand Linux, USD per instance-hour, and the NVIDIA GPUs each size carries (0 = CPU only).
_INSTANCES: dict[str, tuple[float, int]] = {
    # GPU families the components support (components/cluster/instances.py)
    "g4dn.xlarge": (0.526, 1), "g4dn.2xlarge": (0.752, 1), "g4dn.4xlarge": (1.204, 1),
    "g4dn.8xlarge": (2.176, 1), "g4dn.12xlarge": (3.912, 4), "g4dn.16xlarge": (4.352, 1),
    "g5.xlarge": (1.006, 1), "g5.2xlarge": (1.212, 1), "g5.4xlarge": (1.624, 1), "g5.8xlarge": (2.448, 1),
    "g5.12xlarge": (5.672, 4), "g5.16xlarge": (4.096, 1), "g5.24xlarge": (8.144, 4), "g5.48xlarge": (16.288, 8),
    "g6.xlarge": (0.8048, 1), "g6.2xlarge": (0.9776, 1), "g6.4xlarge": (1.3232, 1), "g6.8xlarge": (2.0144, 1),
    "g6.12xlarge": (4.6016, 4), "g6.16xlarge": (3.3968, 1), "g6.24xlarge": (6.6752, 4), "g6.48xlarge": (13.3504, 8),
    # system and fallback (CPU) node groups; the 2xlarge/4xlarge c6i, c7i and m7i rows and m6i.4xlarge
    # were added with the fallback tier, not re-read on PRICES_AS_OF: confirm them on the EC2 page
    "t3.medium": (0.0416, 0), "t3.large": (0.0832, 0), "t3.xlarge": (0.1664, 0), "t3.2xlarge": (0.3328, 0),
    "m5.large": (0.096, 0), "m5.xlarge": (0.192, 0), "m5.2xlarge": (0.384, 0),
    "m6i.large": (0.096, 0), "m6i.xlarge": (0.192, 0), "m6i.2xlarge": (0.384, 0), "m6i.4xlarge": (0.768, 0),
    "m7i.large": (0.1008, 0), "m7i.xlarge": (0.2016, 0), "m7i.2xlarge": (0.4032, 0), "m7i.4xlarge": (0.8064, 0),
    "c6i.large": (0.085, 0), "c6i.xlarge": (0.17, 0), "c6i.2xlarge": (0.34, 0), "c6i.4xlarge": (0.68, 0),
    "c7i.large": (0.08925, 0), "c7i.xlarge": (0.1785, 0), "c7i.2xlarge": (0.357, 0), "c7i.4xlarge": (0.714, 0),
}

_US_RATE_CARD = {
    "instanceHour": {name: price for name, (price, _) in _INSTANCES.items()},
    "eksClusterHour": 0.10,          # standard support
    "eksClusterExtendedHour": 0.60,  # a version in extended support (aws_limits.EKS_EXTENDED_SUPPORT_VERSIONS)
    "natGatewayHour": 0.045,         # plus $0.045/GB processed (traffic not estimated)
    "publicIpv4Hour": 0.005,         # every Elastic IP (the NAT gateways' addresses)
    "nlbHour": 0.0225,               # plus LCU-hours (traffic not estimated)
    # Rows added with the front door (ALB, WAF, CloudWatch API), from the same price pages; not
    # re-read on PRICES_AS_OF: confirm them there before relying on them.
    "albHour": 0.0225,               # Application Load Balancer, per hour
    "albLcuHour": 0.008,             # per LCU-hour (new connections, active connections, bytes, rule evaluations)
    "wafWebAclMonth": 5.00,          # AWS WAF, per web ACL and month
    "wafRuleMonth": 1.00,            # per rule or rule group in it (AWS's baseline managed groups: no extra fee)
    "wafMillionRequests": 0.60,      # per million requests the ACL inspects
    "cloudwatchThousandMetrics": 0.01,  # GetMetricData, per 1,000 metrics requested (what KEDA's scaler reads)
    "kmsKeyMonth": 1.00,
    "alarmMonth": 0.10,              # standard-resolution metric alarm
    "s3RtcPerGb": 0.015,             # S3 Replication Time Control, per GB replicated
    "s3InterRegionPerGb": 0.02,      # data transfer out to another region, per GB replicated
}

REGIONS: dict[str, dict] = {region: _US_RATE_CARD for region in ("us-east-1", "us-east-2", "us-west-2")}

# Global (not regional) prices.
GLOBAL = {
    # Route 53 health check of an AWS endpoint (a load balancer), per month, and each optional feature.
    "healthCheckMonth": 0.50,
    "healthCheckFeatureMonth": 1.00,  # HTTPS, string matching, fast (10 s) interval, latency graphs: each
    "hostedZoneMonth": 0.50,          # a hosted zone the program creates (first 25 zones)
    "arcClusterHour": 2.50,           # Route 53 ARC routing-control cluster
    # ARC Region switch, per plan and month. Not re-checked since the table was written:
    # confirm on the ARC pricing page before relying on it.
    "regionSwitchPlanMonth": 70.00,
}

GPU_COUNT = {name: gpus for name, (_, gpus) in _INSTANCES.items()}

# Assumptions the estimate states beside its figures.
ASSUMPTIONS = {
    # Model versions replicated per month: a few GB of SavedModel, published a few times.
    "replicatedGbPerMonth": 20,
    # (A pilot light's activation phases are not prices: components/cluster/cold_start.py, with sources.)
    # Requests the primary's front door serves per month (the web ACL inspects each); the standby's
    # sees only health checks until a failover.
    "servedRequestsPerMonth": 100_000_000,
    # Load-balancer capacity units the primary's balancer uses on average (one LCU: 25 new
    # connections/s, 3,000 active connections, 1 GB/hour or 1,000 rule evaluations/s).
    "primaryLcu": 1,
}


def instance_gpus(instance_type: str) -> int | None:
    """NVIDIA GPUs of `instance_type`, or None when the table does not know the type."""
    return GPU_COUNT.get(instance_type)
