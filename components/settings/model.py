"""`model`: which model version every region serves."""

from __future__ import annotations

from recsys_dr.components.settings.aws_limits import MODEL_NAME_PATTERN
from recsys_dr.components.settings.base import INT64_MAX, Settings, setting

MODEL_NAME_ALLOWED = (
    "1-63 characters of letters, digits, '_', '.', '-', starting and ending with a letter or digit "
    "(TF Serving uses it in URLs and paths, Kubernetes in labels)"
)


class ModelSettings(Settings):
    """The pinned model: `models/<name>/<version>/` in each region's bucket."""

    name: str = setting(description="TF Serving model name (also the bucket prefix `models/<name>/`).",
                        allowed=MODEL_NAME_ALLOWED, pattern=MODEL_NAME_PATTERN.pattern)
    version: int = setting(description="Pinned integer version (a TF Serving version directory).",
                           allowed="a positive integer (a TF Serving version directory)", ge=1, le=INT64_MAX,
                           limit="TF Serving versions are int64")
    manifest_sha256: str = setting(
        description="sha256 of the version's manifest.json, as `python -m recsys_dr.model publish` prints it; the init "
        "container refuses any other manifest, so what runs changes only with a reviewed change of this file.",
        allowed="64 lower-case hexadecimal digits", pattern=r"^[0-9a-f]{64}$",
    )
