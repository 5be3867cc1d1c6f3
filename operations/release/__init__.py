"""`recsys-dr release`: a candidate version through the regions one at a time, gated, with rollback.

Modules: `tier` (what a release moves, read from the stack outputs), `weights` (the candidate's
share: ELB rule weights), `record` (the release record, an S3 object written by compare-and-swap:
the lock), `evidence` (verified manifests, golden requests, offline quality), `replay` (the golden
gate through the live endpoint), `signals` (the live gate: CloudWatch), `rollout` (Kubernetes
rollout status), `flow` (the steps, gates and rollback), `commands` (plan, start, advance, abort,
status), `patch` (the stack-file changes, as `pulumi config` commands), `report` (table and JSON),
`cli`.
"""
