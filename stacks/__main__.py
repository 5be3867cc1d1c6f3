"""The recsys-dr Pulumi program: validate the stack's config, then build both regions.

`pulumi up -s dev` runs this file (Pulumi.yaml: `main: stacks/`).
"""

import pulumi
import pulumi_aws as aws

from recsys_dr.components import TwoRegionRecommender
from recsys_dr.stacks.settings import NAMESPACE, load_settings, read_config

environment = pulumi.get_stack()
# Raises before any resource is registered if anything is wrong.
raw, foreign_keys = read_config(pulumi.Config(NAMESPACE))
settings = load_settings(raw, environment, foreign_keys=foreign_keys)
args = settings.args

# Global resources (IAM, Route 53) go through this provider; every regional resource
# names its region explicitly, so the provider's region decides nothing else.
aws_provider = aws.Provider("aws", region=args.regions.primary, default_tags={"tags": dict(args.tags)})
deployment = TwoRegionRecommender(
    f"recsys-{environment}", args, opts=pulumi.ResourceOptions(providers=[aws_provider])
)

pulumi.export("environment", environment)
for name, value in deployment.stack_outputs.items():
    pulumi.export(name, value)
pulumi.export("failoverBudgetTargetSeconds", settings.failover_budget_target)
pulumi.export("failoverBudget", deployment.failover_budget.explain())
