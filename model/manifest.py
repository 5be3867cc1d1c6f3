"""Integrity manifest of a model version directory (`manifest.json`).

The manifest is the contract between `model publish`, `model verify` and the
serving init container (`components/serving/fetch_and_verify.sh`): it lists the
sha256 and size of every file of the version directory, so a reader can tell a
complete, intact version from a partial or corrupt one.

Format (docs/artifacts.md), written with
``json.dumps(obj, indent=2, sort_keys=True)``::

    {
      "created_at": "2026-11-28T13:00:00Z",
      "files": [
        {"path": "saved_model.pb", "sha256": "<64 lowercase hex>", "size": 1234},
        ...
      ],
      "format": 1,
      "model_name": "recommender",
      "version": 3,
      ... free-form metadata (tensorflow_version, metrics, signature, ...)
    }

Plain standard library on purpose: the serving components and the operations
CLI import this without TensorFlow.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from recsys_dr.model import MODEL_NAME_PATTERN

MANIFEST_NAME = "manifest.json"
ITEMS_PATH = "assets/items.txt"  # catalog item ids in output order: the lookups' SavedModel asset
TITLES_PATH = "assets.extra/titles.txt.gz"  # their titles, same order, gzip (read by `inspect`)
FORMAT = 1
CHUNK_SIZE = 1 << 20  # 1 MiB: bounded memory for multi-GB variable shards.

MODEL_NAME_RE = re.compile(MODEL_NAME_PATTERN)
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
CREATED_AT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
# One path segment. Deliberately narrow (ASCII letters, digits and ._+=@,-): the
# init container parses the manifest with grep/awk and handles paths as shell words,
# so no quotes, backslashes, whitespace, globs or non-ASCII (json would \u-escape it).
SAFE_SEGMENT_RE = re.compile(r"^[A-Za-z0-9._+=@,-]+$")

ROLE_KEY = "role"  # metadata key: FALLBACK_ROLE marks a fallback version (model/fallback.py); absent on main versions
FALLBACK_ROLE = "fallback"

RESERVED_KEYS = ("created_at", "files", "format", "model_name", "version")
FILE_KEYS = ("path", "sha256", "size")


class ManifestError(ValueError):
    """A manifest (or the directory it describes) is malformed or unsafe."""


def check_relative_path(path: str) -> str:
    """Return `path` if it is a safe relative "/"-separated path, else raise.

    Args:
        path: str, a path relative to the version directory, e.g. "variables/variables.index".

    Raises:
        ManifestError: empty, absolute, with "." / ".." / empty segments, or with
            characters outside ``[A-Za-z0-9._+=@,-]`` and "/".
    """
    if not isinstance(path, str) or not path:
        raise ManifestError(f"unsafe path {path!r}: must be a non-empty string")
    if path.startswith("/"):
        raise ManifestError(f"unsafe path {path!r}: must be relative (no leading '/')")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise ManifestError(
                f"unsafe path {path!r}: empty, '.' or '..' segments are not allowed"
            )
        if not SAFE_SEGMENT_RE.match(segment):
            raise ManifestError(
                f"unsafe path {path!r}: only ASCII letters, digits, '._+=@,-' and '/' "
                "are allowed"
            )
    return path


def file_digest(path: str | os.PathLike[str]) -> tuple[str, int]:
    """Return ``(sha256 hex, size in bytes)`` of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK_SIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def list_files(version_dir: Path) -> list[str]:
    """Relative "/" paths of every file under `version_dir` except the root manifest, sorted.

    Raises:
        ManifestError: a symlink or special file is present, or a path is unsafe.
    """
    version_dir = Path(version_dir)
    if not version_dir.is_dir():
        raise ManifestError(f"{version_dir}: not a directory")
    found: list[str] = []
    for root, dirs, files in os.walk(version_dir):
        for name in dirs + files:
            full = Path(root, name)
            # Symlinks could point outside the artifact; a SavedModel never needs them.
            if full.is_symlink():
                rel = full.relative_to(version_dir).as_posix()
                raise ManifestError(f"{rel}: symlinks are not allowed in a model version")
        for name in files:
            full = Path(root, name)
            rel = full.relative_to(version_dir).as_posix()
            if rel == MANIFEST_NAME:
                continue
            if not full.is_file():
                raise ManifestError(f"{rel}: not a regular file")
            found.append(check_relative_path(rel))
    return sorted(found)


def check_model_name(model_name: Any) -> str:
    """Return `model_name` if it matches :data:`model.MODEL_NAME_PATTERN`, else raise ManifestError."""
    if not isinstance(model_name, str) or not MODEL_NAME_RE.match(model_name):
        raise ManifestError(
            f"`model_name` must match {MODEL_NAME_RE.pattern}. Received: {model_name!r}"
        )
    return model_name


def _check_version(version: Any) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ManifestError(f"`version` must be a positive int. Received: {version!r}")


def dumps(manifest: dict) -> str:
    """Serialize exactly as the contract says (the init container relies on the layout)."""
    return json.dumps(manifest, indent=2, sort_keys=True) + "\n"


def write_manifest(
    version_dir: Path, *, model_name: str, version: int, metadata: dict
) -> dict:
    """Hash every file of `version_dir` and write `version_dir/manifest.json`.

    Args:
        version_dir: Path, the model version directory (a SavedModel dir).
        model_name: str, matches ``^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$``.
        version: int, positive; should equal the directory name.
        metadata: dict, extra JSON-serializable keys (tensorflow_version, metrics, ...).
            May not contain the reserved keys format, model_name, version,
            created_at, files.

    Returns:
        The manifest as written (a JSON round trip, so it equals `load_manifest`).

    Raises:
        ManifestError: bad name/version, reserved metadata key, unsafe path, symlink.

    Example:
        >>> write_manifest(Path("artifacts/recommender/3"), model_name="recommender",
        ...                version=3, metadata={"tensorflow_version": "2.21.0"})
    """
    version_dir = Path(version_dir)
    check_model_name(model_name)
    _check_version(version)
    clash = sorted(set(metadata) & set(RESERVED_KEYS))
    if clash:
        raise ManifestError(
            f"metadata may not set reserved keys: {', '.join(clash)}"
        )

    files = []
    for rel in list_files(version_dir):
        sha256, size = file_digest(version_dir / rel)
        files.append({"path": rel, "sha256": sha256, "size": size})
    if not files:
        raise ManifestError(f"{version_dir}: no files to put in the manifest")

    manifest = dict(metadata)
    manifest.update(
        format=FORMAT,
        model_name=model_name,
        version=version,
        created_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        files=files,
    )
    text = dumps(manifest)

    # Write-then-rename: a crash never leaves a truncated manifest.json behind.
    fd, tmp = tempfile.mkstemp(prefix=".manifest.", suffix=".tmp", dir=version_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, version_dir / MANIFEST_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return json.loads(text)


def validate_manifest(manifest: Any, *, source: str = "manifest") -> dict:
    """Check the shape of a parsed manifest; return it or raise one ManifestError listing every problem."""
    if not isinstance(manifest, dict):
        raise ManifestError(f"{source}: must be a JSON object, got {type(manifest).__name__}")
    problems: list[str] = []
    missing = [key for key in RESERVED_KEYS if key not in manifest]
    if missing:
        problems.append(f"missing required keys: {', '.join(missing)}")
    if "format" in manifest and (
        isinstance(manifest["format"], bool) or manifest["format"] != FORMAT
    ):
        problems.append(f"`format` must be {FORMAT}. Received: {manifest['format']!r}")
    for key, check in (("model_name", check_model_name), ("version", _check_version)):
        if key in manifest:
            try:
                check(manifest[key])
            except ManifestError as exc:
                problems.append(str(exc))
    created_at = manifest.get("created_at")
    if "created_at" in manifest and not (
        isinstance(created_at, str) and CREATED_AT_RE.match(created_at)
    ):
        problems.append(
            f"`created_at` must be a UTC ISO-8601 time ending in 'Z'. Received: {created_at!r}"
        )

    files = manifest.get("files")
    if "files" in manifest:
        if not isinstance(files, list) or not files:
            problems.append("`files` must be a non-empty list")
        else:
            seen: set[str] = set()
            for index, entry in enumerate(files):
                where = f"files[{index}]"
                if not isinstance(entry, dict) or set(entry) != set(FILE_KEYS):
                    problems.append(f"{where}: must be an object with exactly the keys path, sha256, size")
                    continue
                path, sha256, size = entry["path"], entry["sha256"], entry["size"]
                try:
                    check_relative_path(path)
                except ManifestError as exc:
                    problems.append(f"{where}: {exc}")
                else:
                    if path == MANIFEST_NAME:
                        problems.append(f"{where}: {MANIFEST_NAME} may not list itself")
                    if path in seen:
                        problems.append(f"{where}: duplicate path {path!r}")
                    seen.add(path)
                if not isinstance(sha256, str) or not SHA256_RE.match(sha256):
                    problems.append(f"{where}: `sha256` must be 64 lowercase hex digits. Received: {sha256!r}")
                if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                    problems.append(f"{where}: `size` must be an int >= 0. Received: {size!r}")
    if problems:
        raise ManifestError(f"{source}: invalid manifest: " + "; ".join(problems))
    return manifest


def parse_manifest(data: bytes | str, *, source: str = "manifest") -> dict:
    """Parse and validate manifest JSON text (e.g. the body of an S3 object)."""
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{source}: not valid JSON: {exc}") from exc
    return validate_manifest(obj, source=source)


def load_manifest(path: Path) -> dict:
    """Read and validate a manifest.json.

    Args:
        path: Path, the manifest file (usually ``<version_dir>/manifest.json``).

    Raises:
        ManifestError: the file is missing, unreadable, not JSON, or has the wrong shape.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise ManifestError(f"{path}: manifest not found") from exc
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read manifest: {exc}") from exc
    return parse_manifest(data, source=str(path))


def files_by_path(manifest: dict) -> dict[str, tuple[str, int]]:
    """Map path -> (sha256, size) for a validated manifest."""
    return {entry["path"]: (entry["sha256"], entry["size"]) for entry in manifest["files"]}
