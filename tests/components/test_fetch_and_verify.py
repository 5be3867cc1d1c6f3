"""components/serving/fetch_and_verify.sh, run for real with `sh` + the aws CLI against moto_server.

The init container must install a version only when its manifest has the sha256 pinned in
the stack (MANIFEST_SHA256) and every file matches that manifest, and leave nothing behind
in TARGET_DIR otherwise.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest

from recsys_dr.model.manifest import MANIFEST_NAME, write_manifest
from recsys_dr.model.publish import publish
from tests.support import moto_server

pytestmark = pytest.mark.slow  # starts a server and runs the aws CLI (a few seconds)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "components" / "serving" / "fetch_and_verify.sh"
VENV_BIN = Path(sys.executable).parent
REGION = "us-east-1"
MODEL = "recommender"
FILES = {
    "saved_model.pb": b"saved-model-graph" * 40,
    "variables/variables.index": b"variables-index",
    "variables/variables.data-00000-of-00001": bytes(range(256)) * 64,
    "assets.extra/tf_serving_warmup_requests": b"warmup-requests",
}


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory):
    with moto_server(tmp_path_factory.mktemp("moto")) as url:
        yield url


@pytest.fixture
def s3(endpoint):
    return boto3.client(
        "s3", region_name=REGION, endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(s3) -> str:
    name = f"models-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def make_version(root: Path, version: int = 3, files: dict[str, bytes] = FILES) -> Path:
    version_dir = root / MODEL / str(version)
    for rel, data in files.items():
        (version_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (version_dir / rel).write_bytes(data)
    write_manifest(version_dir, model_name=MODEL, version=version,
                   metadata={"data_fingerprint": "sha256:" + "0" * 64, "metrics": {"recall@10": 0.1}})
    return version_dir


# bucket -> sha256 of the manifest.json as published (what the stack file would pin).
PINNED: dict[str, str] = {}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def published(tmp_path, s3, bucket) -> str:
    version_dir = make_version(tmp_path / "artifacts")
    publish(version_dir, bucket, s3_client=s3, show_progress=False)
    PINNED[bucket] = sha256_hex((version_dir / MANIFEST_NAME).read_bytes())
    return bucket


def run_script(endpoint: str, bucket: str, target: Path, **overrides: str) -> subprocess.CompletedProcess:
    home = target.parent / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(home),
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "MODEL_BUCKET": bucket,
        "MODEL_NAME": MODEL,
        "MODEL_VERSION": "3",
        "MANIFEST_SHA256": PINNED.get(bucket, "<unset>"),
        "TARGET_DIR": str(target),
    }
    env.update(overrides)
    env = {k: v for k, v in env.items() if v is not None and v != "<unset>"}
    return subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def target(tmp_path) -> Path:
    path = tmp_path / "models" / MODEL
    path.mkdir(parents=True)
    return path


def assert_failed_clean(result: subprocess.CompletedProcess, target: Path, *needles: str) -> None:
    assert result.returncode != 0, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr
    assert "was NOT installed" in result.stderr
    assert list(target.iterdir()) == []  # no version dir, no staging leftovers


def test_complete_version_is_installed_and_verified(endpoint, published, target) -> None:
    result = run_script(endpoint, published, target)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["3"]
    installed = {
        p.relative_to(target / "3").as_posix(): p.read_bytes()
        for p in (target / "3").rglob("*") if p.is_file()
    }
    assert installed.pop(MANIFEST_NAME)
    assert installed == FILES
    assert "installed and verified 4 files" in result.stderr
    assert result.stdout == ""  # logs go to stderr


def test_corrupted_file_fails_and_leaves_nothing(endpoint, s3, published, target) -> None:
    key = f"models/{MODEL}/3/variables/variables.index"
    s3.put_object(Bucket=published, Key=key, Body=b"X" * len(FILES["variables/variables.index"]))
    result = run_script(endpoint, published, target)
    assert_failed_clean(result, target, "SHA256 MISMATCH: variables/variables.index",
                        hashlib.sha256(FILES["variables/variables.index"]).hexdigest())


def test_truncated_file_fails_on_size(endpoint, s3, published, target) -> None:
    s3.put_object(Bucket=published, Key=f"models/{MODEL}/3/saved_model.pb", Body=b"short")
    result = run_script(endpoint, published, target)
    assert_failed_clean(result, target, "SIZE MISMATCH: saved_model.pb is 5 bytes")


def test_missing_file_fails_and_leaves_nothing(endpoint, s3, published, target) -> None:
    s3.delete_object(Bucket=published, Key=f"models/{MODEL}/3/assets.extra/tf_serving_warmup_requests")
    result = run_script(endpoint, published, target)
    assert_failed_clean(result, target, "MISSING: assets.extra/tf_serving_warmup_requests")


def test_missing_manifest_fails_and_leaves_nothing(endpoint, s3, published, target) -> None:
    s3.delete_object(Bucket=published, Key=f"models/{MODEL}/3/{MANIFEST_NAME}")
    result = run_script(endpoint, published, target)
    assert_failed_clean(result, target, "manifest.json not found")


def test_unpublished_version_fails(endpoint, published, target) -> None:
    result = run_script(endpoint, published, target, MODEL_VERSION="4")
    assert_failed_clean(result, target, "manifest.json not found", f"s3://{published}/models/{MODEL}/4/")


def _replace_manifest(s3, bucket: str, text: str) -> str:
    """Overwrite the version's manifest; returns its sha256 (for tests of what a pinned but
    malformed manifest does: the parser still refuses it)."""
    s3.put_object(Bucket=bucket, Key=f"models/{MODEL}/3/{MANIFEST_NAME}", Body=text.encode())
    return sha256_hex(text.encode())


def _tamper_consistently(tmp_path: Path, s3, bucket: str) -> str:
    """Replace saved_model.pb AND manifest.json so that they agree (what anyone who can write
    models/ can do); returns the sha256 of the forged manifest."""
    forged = make_version(tmp_path / "forged", files={**FILES, "saved_model.pb": b"poisoned-graph" * 40})
    s3.put_object(Bucket=bucket, Key=f"models/{MODEL}/3/saved_model.pb", Body=(forged / "saved_model.pb").read_bytes())
    return _replace_manifest(s3, bucket, (forged / MANIFEST_NAME).read_text())


def test_consistently_tampered_version_is_refused_by_the_pinned_digest(endpoint, s3, published, target, tmp_path) -> None:
    _tamper_consistently(tmp_path, s3, published)
    result = run_script(endpoint, published, target)
    assert_failed_clean(result, target, f"but the stack pins MANIFEST_SHA256={PINNED[published]}: refusing a manifest")
    assert "downloading" not in result.stderr  # nothing listed in the forged manifest was fetched


def test_consistent_tampering_passes_every_other_check(endpoint, s3, published, target, tmp_path) -> None:
    # Why the digest is needed: pinned to the forged manifest, the forged version installs.
    forged_digest = _tamper_consistently(tmp_path, s3, published)
    result = run_script(endpoint, published, target, MANIFEST_SHA256=forged_digest)
    assert result.returncode == 0, result.stderr
    assert (target / "3" / "saved_model.pb").read_bytes() == b"poisoned-graph" * 40


def test_pinned_digest_may_be_upper_case(endpoint, published, target) -> None:
    result = run_script(endpoint, published, target, MANIFEST_SHA256=PINNED[published].upper())
    assert result.returncode == 0, result.stderr
    assert f"manifest.json matches the pinned sha256 {PINNED[published]}" in result.stderr


def test_unsafe_path_in_manifest_is_rejected(endpoint, s3, published, target) -> None:
    manifest = json.loads(s3.get_object(Bucket=published, Key=f"models/{MODEL}/3/{MANIFEST_NAME}")["Body"].read())
    manifest["files"][0]["path"] = "../../escape"
    digest = _replace_manifest(s3, published, json.dumps(manifest, indent=2, sort_keys=True))
    result = run_script(endpoint, published, target, MANIFEST_SHA256=digest)
    assert_failed_clean(result, target, 'unsafe path "../../escape"')
    assert not (target.parent / "escape").exists()


def test_unparseable_layout_fails_instead_of_passing(endpoint, s3, published, target) -> None:
    manifest = json.loads(s3.get_object(Bucket=published, Key=f"models/{MODEL}/3/{MANIFEST_NAME}")["Body"].read())
    # One entry on a single line: the parser sees fewer entries than "sha256" keys.
    text = json.dumps(manifest, indent=2, sort_keys=True)
    first = json.dumps(manifest["files"][0], sort_keys=True)
    lines = text.split("\n")
    start = lines.index("  \"files\": [")
    lines[start + 1:start + 6] = ["    " + first + ","]
    digest = _replace_manifest(s3, published, "\n".join(lines))
    result = run_script(endpoint, published, target, MANIFEST_SHA256=digest)
    assert_failed_clean(result, target, 'parsed 3 file entries but found 4 "sha256" keys')


def test_manifest_for_another_version_is_rejected(endpoint, s3, published, target) -> None:
    manifest = json.loads(s3.get_object(Bucket=published, Key=f"models/{MODEL}/3/{MANIFEST_NAME}")["Body"].read())
    manifest["version"] = 2
    digest = _replace_manifest(s3, published, json.dumps(manifest, indent=2, sort_keys=True))
    result = run_script(endpoint, published, target, MANIFEST_SHA256=digest)
    assert_failed_clean(result, target, "version is '2', expected '3'")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"MODEL_BUCKET": "<unset>", "TARGET_DIR": "<unset>"}, "missing required environment variable(s): MODEL_BUCKET TARGET_DIR"),
        ({"MODEL_VERSION": "3a"}, "MODEL_VERSION='3a' must be a positive integer"),
        ({"MODEL_NAME": "../x"}, "MODEL_NAME='../x' must match"),
        ({"TARGET_DIR": "relative/dir"}, "TARGET_DIR must be an absolute path"),
        ({"MANIFEST_SHA256": "<unset>"}, "missing required environment variable(s): MANIFEST_SHA256"),
        ({"MANIFEST_SHA256": ""}, "missing required environment variable(s): MANIFEST_SHA256"),
        ({"MANIFEST_SHA256": "0" * 63}, f"MANIFEST_SHA256='{'0' * 63}' must be 64 hex digits"),
        ({"MANIFEST_SHA256": "g" * 64}, f"MANIFEST_SHA256='{'g' * 64}' must be 64 hex digits"),
    ],
)
def test_bad_environment_fails_before_any_download(endpoint, published, target, overrides, message) -> None:
    result = run_script(endpoint, published, target, **overrides)
    assert result.returncode != 0
    assert message in result.stderr
    assert list(target.iterdir()) == []


def test_unlisted_objects_are_not_installed(endpoint, s3, published, target) -> None:
    s3.put_object(Bucket=published, Key=f"models/{MODEL}/3/stray/notes.txt", Body=b"unverified")
    result = run_script(endpoint, published, target)
    assert result.returncode == 0, result.stderr
    assert not (target / "3" / "stray").exists()


def test_restart_reuses_verified_install_and_replaces_corrupt_one(endpoint, published, target) -> None:
    assert run_script(endpoint, published, target).returncode == 0
    again = run_script(endpoint, published, target)
    assert again.returncode == 0, again.stderr
    assert "already holds this verified version; reusing it" in again.stderr

    (target / "3" / "saved_model.pb").write_bytes(b"bit rot")
    fixed = run_script(endpoint, published, target)
    assert fixed.returncode == 0, fixed.stderr
    assert "does not verify against the manifest; replacing it" in fixed.stderr
    assert (target / "3" / "saved_model.pb").read_bytes() == FILES["saved_model.pb"]
    assert sorted(p.name for p in target.iterdir()) == ["3"]


def test_other_versions_are_pruned_so_tf_serving_loads_the_pinned_one(endpoint, published, target) -> None:
    # A rollback to 3 on a volume that still holds 7: TF Serving would load the highest.
    (target / "7").mkdir()
    (target / "7" / "saved_model.pb").write_bytes(b"newer")
    (target / ".staging-3-1").mkdir()  # left by a killed run
    (target / "keep-me.txt").write_text("not a version dir")
    result = run_script(endpoint, published, target)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["3", "keep-me.txt"]


def test_a_config_planted_in_home_is_never_read(endpoint, published, target, tmp_path) -> None:
    """TF Serving cannot plant code the init container runs: the init container's env (as rendered)
    keeps the AWS CLI off ~/.aws/config, whose `credential_process` it would otherwise execute."""
    from recsys_dr.components.serving.manifests import ServingSpec, deployment_spec

    spec = ServingSpec(model_name=MODEL, model_version=3, bucket=published, region=REGION, replicas=1, min_replicas=1,
                       max_replicas=1, manifest_sha256="0" * 64)
    (init,) = deployment_spec(spec, service_account="sa", script_config_map="cm")["template"]["spec"]["initContainers"]
    pod_env = {e["name"]: e["value"] for e in init["env"] if e["name"].startswith("AWS_") and e["name"].endswith("_FILE")}
    marker = tmp_path / "credential-process-ran"
    helper = tmp_path / "planted.sh"
    helper.write_text(f"#!/bin/sh\ntouch {marker}\n"
                      'echo \'{"Version": 1, "AccessKeyId": "testing", "SecretAccessKey": "testing"}\'\n')
    helper.chmod(0o755)
    home = target.parent / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text(f"[default]\ncredential_process = {helper}\n")
    run_script(endpoint, published, target, AWS_ACCESS_KEY_ID=None, AWS_SECRET_ACCESS_KEY=None,
               AWS_EC2_METADATA_DISABLED="true", AWS_CONFIG_FILE=pod_env.get("AWS_CONFIG_FILE"),
               AWS_SHARED_CREDENTIALS_FILE=pod_env.get("AWS_SHARED_CREDENTIALS_FILE"))
    assert not marker.exists()
