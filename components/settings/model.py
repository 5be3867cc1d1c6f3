"""`model`: which model version every region serves."""

from __future__ import annotations

from pathlib import Path

from pydantic import model_validator

from recsys_dr.components.settings.aws_limits import MODEL_NAME_PATTERN
from recsys_dr.components.settings.base import INT64_MAX, Settings, problem, setting
from recsys_dr.model.config import TrainConfig

# The exported signature's history width (`python -m recsys_dr.model build` defaults to it): one fact, one place.
DEFAULT_HISTORY_LENGTH = TrainConfig.history_length

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
    history_length: int = setting(
        DEFAULT_HISTORY_LENGTH,
        description="History ids per request row (the manifest's `serving.history_length`); sizes the web ACL's body limit.",
        allowed="an integer from 1 to 10000", ge=1, le=10_000,
    )
    max_batch: int = setting(
        64, description="Rows the version accepts per request (the manifest's `serving.max_batch`; every export accepts 64).",
        allowed="an integer from 1 to 1024", ge=1, le=1024, limit="model/export.py caps a request at 1024 rows",
    )
    max_item_id_bytes: int = setting(
        24, description="Longest catalog item id in bytes, JSON-escaped (sizes requests; the version's manifest records the "
        "largest one-row request as `serving.max_request_bytes`).", allowed="an integer from 1 to 1024", ge=1, le=1024)
    max_query_bytes: int = setting(256, description="Longest search query a client sends in bytes, JSON-escaped (sizes requests).",
                                   allowed="an integer from 0 to 8192", ge=0, le=8192)
    artifact_dir: str | None = setting(
        None, description="Version directory built by `python -m recsys_dr.model build` that `pulumi up` uploads into the "
        "primary bucket (manifest last, never deleted); relative to the project root (the folder of Pulumi.yaml). "
        "Default: none, publish with `python -m recsys_dr.model publish`.",
        allowed="the path of a built version directory of the pinned model and version", min_length=1,
    )

    @model_validator(mode="after")
    def _request_fits(self) -> ModelSettings:
        from recsys_dr.components.serving.request_size import request_size_problems

        problems = request_size_problems("{key}.historyLength", history_length=self.history_length,
                                         item_id_bytes=self.max_item_id_bytes, query_bytes=self.max_query_bytes)
        if problems:
            raise problem("\n".join(problems))
        return self

    @model_validator(mode="after")
    def _artifact(self) -> ModelSettings:
        if self.artifact_dir is not None:
            from recsys_dr.components.storage.model_artifact import (
                manifest_pin_problems,
                manifest_shape_problems,
                model_artifact_problems,
            )

            problems = model_artifact_problems("{key}.artifactDir", self.artifact_path, self.name, self.version)
            digest = getattr(self, "manifest_sha256", None)
            if not problems and digest is not None:
                problems = manifest_pin_problems("{key}.artifactDir", self.artifact_path, "{key}.manifestSha256", digest)
            if not problems:
                problems = manifest_shape_problems("{key}", self.artifact_path, history_length=self.history_length,
                                                   max_batch=self.max_batch)
            if problems:
                raise problem("\n".join(problems))
        return self

    @property
    def artifact_path(self) -> Path | None:
        """`artifact_dir` as an absolute path: relative ones start at the project root.

        Pulumi runs a program whose `main` is a directory inside that directory (pulumi
        pkg/engine/project.go `getPwdMain`: `pwd = main`), here `stacks/`, so the working directory
        is not the project root; the nearest folder with a Pulumi.yaml is (Pulumi docs, "Projects").
        """
        if self.artifact_dir is None:
            return None
        path = Path(self.artifact_dir).expanduser()
        if path.is_absolute():
            return path
        here = Path.cwd().resolve()
        root = next((d for d in (here, *here.parents) if (d / "Pulumi.yaml").is_file()), here)
        return root / path
    manifest_sha256: str = setting(
        description="sha256 of the version's manifest.json, as `python -m recsys_dr.model publish` prints it; the init "
        "container refuses any other manifest, so what runs changes only with a reviewed change of this file.",
        allowed="64 lower-case hexadecimal digits", pattern=r"^[0-9a-f]{64}$",
    )
