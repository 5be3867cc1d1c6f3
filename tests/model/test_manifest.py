"""model.manifest: write -> load round trip, exact format, and rejection of bad input."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from recsys_dr.model.manifest import (
    MANIFEST_NAME,
    ManifestError,
    check_relative_path,
    file_digest,
    load_manifest,
    write_manifest,
)

FILES = {
    "saved_model.pb": b"graph" * 100,
    "variables/variables.index": b"index",
    "variables/variables.data-00000-of-00001": bytes(range(256)) * 9000,  # > 2 chunks
    "assets.extra/tf_serving_warmup_requests": b"warmup",
}


def make_tree(root: Path, files: dict[str, bytes] = FILES) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


@pytest.fixture
def version_dir(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "recommender" / "3")


def test_file_digest_matches_hashlib_across_chunks(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # 2.2 MiB, spans three 1 MiB chunks
    (tmp_path / "f").write_bytes(data)
    assert file_digest(tmp_path / "f") == (hashlib.sha256(data).hexdigest(), len(data))


def test_write_lists_every_file_sorted_with_hash_and_size(version_dir: Path) -> None:
    manifest = write_manifest(version_dir, model_name="recommender", version=3, metadata={})
    assert [f["path"] for f in manifest["files"]] == sorted(FILES)
    for entry in manifest["files"]:
        data = FILES[entry["path"]]
        assert entry == {
            "path": entry["path"],
            "sha256": hashlib.sha256(data).hexdigest(),
            "size": len(data),
        }


def test_write_sets_contract_keys_and_merges_metadata(version_dir: Path) -> None:
    manifest = write_manifest(
        version_dir,
        model_name="recommender",
        version=3,
        metadata={"tensorflow_version": "2.21.0", "metrics": {"recall@10": 0.25}},
    )
    assert manifest["format"] == 1
    assert manifest["model_name"] == "recommender"
    assert manifest["version"] == 3
    assert manifest["created_at"].endswith("Z")
    assert manifest["tensorflow_version"] == "2.21.0"
    assert manifest["metrics"] == {"recall@10": 0.25}


def test_written_text_is_indent2_sort_keys_and_round_trips(version_dir: Path) -> None:
    manifest = write_manifest(version_dir, model_name="recommender", version=3, metadata={"z": 1})
    text = (version_dir / MANIFEST_NAME).read_text()
    assert text.rstrip("\n") == json.dumps(manifest, indent=2, sort_keys=True)
    assert load_manifest(version_dir / MANIFEST_NAME) == manifest
    # The init container parses these exact lines.
    assert '      "path": "saved_model.pb",\n' in text


def test_rewrite_does_not_list_the_old_manifest(version_dir: Path) -> None:
    write_manifest(version_dir, model_name="recommender", version=3, metadata={})
    again = write_manifest(version_dir, model_name="recommender", version=3, metadata={})
    assert MANIFEST_NAME not in [f["path"] for f in again["files"]]
    assert sorted(p.name for p in version_dir.iterdir()) == sorted(
        ["assets.extra", "manifest.json", "saved_model.pb", "variables"]
    )  # no temp file left behind


@pytest.mark.parametrize("name", ["", "-x", "a/b", "a b", "x" * 64])
def test_write_rejects_bad_model_name(version_dir: Path, name: str) -> None:
    with pytest.raises(ManifestError, match="`model_name` must match"):
        write_manifest(version_dir, model_name=name, version=3, metadata={})


@pytest.mark.parametrize("version", [0, -1, True, "3", 3.0])
def test_write_rejects_bad_version(version_dir: Path, version: object) -> None:
    with pytest.raises(ManifestError, match="`version` must be a positive int"):
        write_manifest(version_dir, model_name="m", version=version, metadata={})  # type: ignore[arg-type]


def test_write_rejects_reserved_metadata_keys(version_dir: Path) -> None:
    with pytest.raises(ManifestError, match="reserved keys: files, version"):
        write_manifest(version_dir, model_name="m", version=3, metadata={"files": [], "version": 9})


def test_write_rejects_unsafe_file_name(version_dir: Path) -> None:
    (version_dir / "has space").write_bytes(b"x")
    with pytest.raises(ManifestError, match="unsafe path 'has space'"):
        write_manifest(version_dir, model_name="m", version=3, metadata={})


def test_write_rejects_symlinks(version_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "outside").write_bytes(b"secret")
    (version_dir / "link").symlink_to(tmp_path / "outside")
    with pytest.raises(ManifestError, match="link: symlinks are not allowed"):
        write_manifest(version_dir, model_name="m", version=3, metadata={})


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../x", "a/../b", "a//b", "./a", "a/", "a\"b", "a\\b", "caf\u00e9", "a*b", ""]
)
def test_check_relative_path_rejects(path: str) -> None:
    with pytest.raises(ManifestError, match="unsafe path"):
        check_relative_path(path)


@pytest.mark.parametrize("path", ["saved_model.pb", "variables/variables.data-00000-of-00001", "a..b/c"])
def test_check_relative_path_accepts(path: str) -> None:
    assert check_relative_path(path) == path


def _valid() -> dict:
    return {
        "format": 1,
        "model_name": "recommender",
        "version": 3,
        "created_at": "2026-11-28T13:00:00Z",
        "files": [{"path": "saved_model.pb", "sha256": "a" * 64, "size": 5}],
    }


def _write(tmp_path: Path, obj: object) -> Path:
    path = tmp_path / MANIFEST_NAME
    path.write_text(json.dumps(obj))
    return path


def test_load_accepts_valid(tmp_path: Path) -> None:
    assert load_manifest(_write(tmp_path, _valid())) == _valid()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m.pop("files"), "missing required keys: files"),
        (lambda m: m.update(format=2), "`format` must be 1"),
        (lambda m: m.update(version="3"), "`version` must be a positive int"),
        (lambda m: m.update(created_at="2026-11-28 13:00"), "`created_at` must be"),
        (lambda m: m.update(files=[]), "`files` must be a non-empty list"),
        (lambda m: m["files"][0].update(sha256="A" * 64), "64 lowercase hex"),
        (lambda m: m["files"][0].update(size="5"), r"`size` must be an int >= 0"),
        (lambda m: m["files"][0].update(size=True), r"`size` must be an int >= 0"),
        (lambda m: m["files"][0].update(path="../../etc/passwd"), "unsafe path"),
        (lambda m: m["files"][0].update(path="manifest.json"), "may not list itself"),
        (lambda m: m["files"][0].pop("size"), "exactly the keys path, sha256, size"),
        (lambda m: m["files"].append(dict(m["files"][0])), "duplicate path 'saved_model.pb'"),
    ],
)
def test_load_rejects_bad_shape(tmp_path: Path, mutate, message: str) -> None:
    manifest = _valid()
    mutate(manifest)
    with pytest.raises(ManifestError, match=message):
        load_manifest(_write(tmp_path, manifest))


def test_load_reports_every_problem_at_once(tmp_path: Path) -> None:
    manifest = _valid()
    manifest.update(format=7, model_name="bad name")
    with pytest.raises(ManifestError, match="`format` must be 1.*`model_name` must match"):
        load_manifest(_write(tmp_path, manifest))


def test_load_missing_and_not_json(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        load_manifest(tmp_path / MANIFEST_NAME)
    (tmp_path / MANIFEST_NAME).write_text("{nope")
    with pytest.raises(ManifestError, match="not valid JSON"):
        load_manifest(tmp_path / MANIFEST_NAME)
