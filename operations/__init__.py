"""Operator commands for the two-region deployment: `recsys-dr status|failover|drill`.

Everything here reads a stack's outputs (as printed by `pulumi stack output --json -s <env>`)
and talks to AWS with boto3, each call in the region that owns the resource. Nothing here
imports TensorFlow or Pulumi.

Modules:

* `outputs`  - load and validate the stack-outputs JSON (file or stdin).
* `clients`  - boto3 clients per region, bounded retries and timeouts, `--endpoint-url`.
* `checks`   - the individual readiness checks, each a `CheckResult`.
* `status`   - assemble the checks into a `StatusReport` (table / JSON, exit code).
* `arc`      - Route 53 ARC data-plane routing-control flips across cluster endpoints.
* `region_switch` - ARC Region switch plan executions, their events and the plan's evaluation.
* `kube`     - the Kubernetes API calls activation makes, with an EKS token as `aws eks get-token` makes it.
* `activation` - the one activation procedure: standby GPU pool, HPA and Deployment up to the
  primary's replica count, bounded waits per phase; and back at rest after a fail-back.
* `failover` - `recsys-dr failover --to standby|primary`.
* `drill`    - `recsys-dr drill`, a bounded game day that always fails back.
* `cli`      - argparse registration.
"""
