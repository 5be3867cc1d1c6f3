"""The Pulumi program of recsys-dr and its per-environment configuration."""
