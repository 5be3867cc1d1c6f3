"""The `recsys-dr` command: plan/diff for reviews, status/failover/drill for operators."""
