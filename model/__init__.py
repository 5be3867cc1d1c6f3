"""Build, evaluate, export, publish and verify the recsys-dr recommender artifact.

Importing this package is cheap: TensorFlow is imported only by the modules that need it
(`model.features`, `model.network`, `model.train`, `model.export`, ...), never here, so
`python -m recsys_dr.model --help` answers quickly and the Pulumi code can import `model.manifest`
without pulling TensorFlow in.

Run `python -m recsys_dr.model --help` for the command line.
"""

DEFAULT_MODEL_NAME = "recommender"
"""Model name used when `--model-name` is not given (matches the stacks' default)."""

MODEL_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$"
"""Allowed model names (shared contract with the stacks and the init container)."""
