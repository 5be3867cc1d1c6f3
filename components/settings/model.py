"""`model`: which model version each region serves, and the candidate a release proves beside it."""

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
SHA256_ALLOWED = "64 lower-case hexadecimal digits"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
VERSION_ALLOWED = "a positive integer (a TF Serving version directory)"
VERSION_LIMIT = "TF Serving versions are int64"
ARTIFACT_DIR_DESCRIPTION = (
    "Version directory built by `python -m recsys_dr.model build` that `pulumi up` uploads into the primary bucket "
    "(manifest last, never deleted); relative to the project root (the folder of Pulumi.yaml). Its manifest also gives "
    "the plan the version's offline metrics."
)
ARTIFACT_DIR_ALLOWED = "the path of a built version directory of the pinned model and version"


def project_path(directory: str) -> Path:
    """A stack file's directory as an absolute path: relative ones start at the project root.

    Pulumi runs a program whose `main` is a directory inside that directory (pulumi
    pkg/engine/project.go `getPwdMain`: `pwd = main`), here `stacks/`, so the working directory
    is not the project root; the nearest folder with a Pulumi.yaml is (Pulumi docs, "Projects").
    """
    path = Path(directory).expanduser()
    if path.is_absolute():
        return path
    here = Path.cwd().resolve()
    root = next((d for d in (here, *here.parents) if (d / "Pulumi.yaml").is_file()), here)
    return root / path


class Pin(Settings):
    """One version a region runs: the init container verifies its files against this manifest digest."""

    version: int = setting(description="Pinned integer version (a TF Serving version directory).", allowed=VERSION_ALLOWED,
                           ge=1, le=INT64_MAX, limit=VERSION_LIMIT)
    manifest_sha256: str = setting(
        description="sha256 of the version's manifest.json, as `python -m recsys_dr.model publish` prints it.",
        allowed=SHA256_ALLOWED, pattern=SHA256_PATTERN,
    )
    artifact_dir: str | None = setting(None, description=ARTIFACT_DIR_DESCRIPTION + " Default: none.",
                                       allowed=ARTIFACT_DIR_ALLOWED, min_length=1)

    @property
    def artifact_path(self) -> Path | None:
        return None if self.artifact_dir is None else project_path(self.artifact_dir)


class CandidatePin(Pin):
    """A candidate beside the stable version: its own pods, Service and target group at no traffic until
    `recsys-dr release` gives it a share."""

    image: str | None = setting(None, description="TF Serving image of the candidate's pods (to release an image). "
                                "Default: `serving.image`.", allowed="a container image reference", min_length=1)


class RegionPin(Settings):
    """One region's pins, overriding the model's: its stable version and its candidate."""

    version: int | None = setting(None, description="Stable version of this region. Default: `model.version`.",
                                  allowed=VERSION_ALLOWED, ge=1, le=INT64_MAX, limit=VERSION_LIMIT)
    manifest_sha256: str | None = setting(None, description="Its manifest digest; required with `version`.",
                                          allowed=SHA256_ALLOWED, pattern=SHA256_PATTERN)
    artifact_dir: str | None = setting(None, description="Its built directory (see `model.artifactDir`). Default: none.",
                                       allowed=ARTIFACT_DIR_ALLOWED, min_length=1)
    candidate: CandidatePin | None = setting(None, description="Candidate of this region. Default: `model.candidate`.",
                                             allowed="an object with keys version, manifestSha256")

    @model_validator(mode="after")
    def _both(self) -> RegionPin:
        if (self.version is None) != (self.manifest_sha256 is None):
            raise problem("`{key}.version` and `{key}.manifestSha256` must be given together (a version runs only with "
                          f"its pinned manifest). Received: version={self.version}, manifestSha256={self.manifest_sha256}")
        if self.artifact_dir is not None and self.version is None:
            raise problem(f"`{{key}}.artifactDir` needs `{{key}}.version`. Received: artifactDir={self.artifact_dir!r}")
        return self


class RegionPins(Settings):
    """Per-region overrides of the pins (a region absent here runs the model's pins)."""

    primary: RegionPin | None = setting(None, description="The primary's pins.", allowed="an object")
    standby: RegionPin | None = setting(None, description="The standby's pins.", allowed="an object")


class ModelSettings(Settings):
    """The pinned model: `models/<name>/<version>/` in each region's bucket."""

    name: str = setting(description="TF Serving model name (also the bucket prefix `models/<name>/`).",
                        allowed=MODEL_NAME_ALLOWED, pattern=MODEL_NAME_PATTERN.pattern)
    version: int = setting(description="Pinned integer version (a TF Serving version directory) of every region "
                           "without its own in `pins`.", allowed=VERSION_ALLOWED, ge=1, le=INT64_MAX, limit=VERSION_LIMIT)
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
        None, description=ARTIFACT_DIR_DESCRIPTION + " Default: none, publish with `python -m recsys_dr.model publish`.",
        allowed=ARTIFACT_DIR_ALLOWED, min_length=1,
    )
    manifest_sha256: str = setting(
        description="sha256 of the version's manifest.json, as `python -m recsys_dr.model publish` prints it; the init "
        "container refuses any other manifest, so what runs changes only with a reviewed change of this file.",
        allowed=SHA256_ALLOWED, pattern=SHA256_PATTERN,
    )
    candidate: CandidatePin | None = setting(
        None, description="A candidate version run beside the stable one in every region (its own pods and target "
        "group, no traffic until `recsys-dr release` moves it). Default: none.",
        allowed="an object with keys version, manifestSha256 (artifactDir, image optional)",
    )
    pins: RegionPins | None = setting(
        None, description="Per-region stable version and candidate, overriding `version`, `manifestSha256`, "
        "`artifactDir` and `candidate` for that region. Default: none (every region runs the model's pins).",
        allowed="an object with keys primary and/or standby",
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
    def _artifacts(self) -> ModelSettings:
        problems: list[str] = []
        for key, pin in self.artifact_pins():
            problems += self._artifact_problems(key, pin)
        if problems:
            raise problem("\n".join(dict.fromkeys(problems)))
        return self

    def _artifact_problems(self, key: str, pin: Pin) -> list[str]:
        from recsys_dr.components.storage.model_artifact import (
            manifest_pin_problems,
            manifest_shape_problems,
            model_artifact_problems,
        )

        path = pin.artifact_path
        problems = model_artifact_problems(f"{key}.artifactDir", path, self.name, pin.version)
        if not problems:
            problems = manifest_pin_problems(f"{key}.artifactDir", path, f"{key}.manifestSha256", pin.manifest_sha256)
        if not problems:
            problems = manifest_shape_problems("{key}", path, history_length=self.history_length, max_batch=self.max_batch)
        return problems

    @property
    def artifact_path(self) -> Path | None:
        """`artifact_dir` as an absolute path (`project_path`)."""
        return None if self.artifact_dir is None else project_path(self.artifact_dir)

    def pin(self, role: str) -> Pin:
        """The stable version `role` runs: its override in `pins`, else the model's."""
        override = getattr(self.pins, role, None) if self.pins else None
        if override is not None and override.version is not None:
            return Pin.model_construct(version=override.version, manifest_sha256=override.manifest_sha256, artifact_dir=override.artifact_dir)
        return Pin.model_construct(version=self.version, manifest_sha256=self.manifest_sha256, artifact_dir=self.artifact_dir)

    def candidate_of(self, role: str) -> CandidatePin | None:
        """The candidate `role` runs beside its stable version, if any."""
        override = getattr(self.pins, role, None) if self.pins else None
        if override is not None and override.candidate is not None:
            return override.candidate
        return self.candidate

    def artifact_pins(self) -> list[tuple[str, Pin]]:
        """(key, pin) of every pin with a built directory, each directory once (the first key that names it)."""
        found: list[tuple[str, Pin]] = []
        if self.artifact_dir is not None:
            found.append(("{key}", Pin.model_construct(version=self.version, manifest_sha256=self.manifest_sha256,
                                       artifact_dir=self.artifact_dir)))
        if self.candidate is not None and self.candidate.artifact_dir is not None:
            found.append(("{key}.candidate", self.candidate))
        for role in ("primary", "standby"):
            override = getattr(self.pins, role, None) if self.pins else None
            if override is None:
                continue
            if override.artifact_dir is not None:
                found.append((f"{{key}}.pins.{role}", self.pin(role)))
            if override.candidate is not None and override.candidate.artifact_dir is not None:
                found.append((f"{{key}}.pins.{role}.candidate", override.candidate))
        seen: set[tuple[str, int]] = set()
        unique = []
        for key, pin in found:
            if (pin.artifact_dir, pin.version) not in seen:
                seen.add((pin.artifact_dir, pin.version))
                unique.append((key, pin))
        return unique

    @property
    def has_candidate(self) -> bool:
        return any(self.candidate_of(role) is not None for role in ("primary", "standby"))
