"""model.publish / model.verify against moto's in-process S3 (mock_aws)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from recsys_dr.model.manifest import MANIFEST_NAME, write_manifest
from recsys_dr.model.publish import CorruptArtifactError, PartSizes, PublishConflictError, publish, put_if_absent
from recsys_dr.model.verify import verify_local, verify_remote

BUCKET = "recsys-models-us-east-1"
BASE = "models/recommender/3/"
FILES = {
    "saved_model.pb": b"graph-def" * 50,
    "variables/variables.index": b"index-bytes",
    "variables/variables.data-00000-of-00001": b"\x01\x02weights" * 400,
    "assets.extra/tf_serving_warmup_requests": b"warmup-record",
}


def make_version(root: Path, files: dict[str, bytes] = FILES, version: int = 3) -> Path:
    version_dir = root / "recommender" / str(version)
    for rel, data in files.items():
        (version_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (version_dir / rel).write_bytes(data)
    write_manifest(version_dir, model_name="recommender", version=version,
                   metadata={"tensorflow_version": "2.21.0"})
    return version_dir


@pytest.fixture
def s3():
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def version_dir(tmp_path: Path) -> Path:
    return make_version(tmp_path / "a")


def keys(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_publish_uploads_every_file_then_verify_ok(s3, version_dir: Path) -> None:
    result = publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    assert result.uri == f"s3://{BUCKET}/{BASE}"
    assert result.uploaded[-1] == MANIFEST_NAME  # commit marker last
    assert sorted(result.uploaded[:-1]) == sorted(FILES)
    assert result.skipped == []
    assert keys(s3) == sorted(BASE + p for p in [*FILES, MANIFEST_NAME])
    for rel, data in FILES.items():
        obj = s3.get_object(Bucket=BUCKET, Key=BASE + rel)
        assert obj["Body"].read() == data
        assert obj["Metadata"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert s3.get_object(Bucket=BUCKET, Key=BASE + MANIFEST_NAME)["Body"].read() == (
        version_dir / MANIFEST_NAME
    ).read_bytes()

    report = verify_remote(BUCKET, "recommender", 3, s3_client=s3)
    assert report.ok, report.summary()
    assert report.checked == len(FILES)
    assert report.to_dict()["missing"] == [] and report.to_dict()["mismatched"] == []


def test_verify_remote_downloads_when_not_trusting_checksums(s3, version_dir: Path) -> None:
    publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    report = verify_remote(BUCKET, "recommender", 3, s3_client=s3, trust_s3_checksums=False)
    assert report.ok, report.summary()


def test_republish_identical_uploads_nothing(s3, version_dir: Path, tmp_path: Path) -> None:
    publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    before = s3.get_object(Bucket=BUCKET, Key=BASE + MANIFEST_NAME)["Body"].read()
    # Same files re-exported elsewhere (new created_at): still the same version.
    again = publish(make_version(tmp_path / "b"), BUCKET, s3_client=s3, show_progress=False)
    assert again.uploaded == []
    assert sorted(again.skipped) == sorted([*FILES, MANIFEST_NAME])
    assert s3.get_object(Bucket=BUCKET, Key=BASE + MANIFEST_NAME)["Body"].read() == before


def test_conflicting_republish_is_refused_and_uploads_nothing(s3, version_dir: Path, tmp_path: Path) -> None:
    publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    snapshot = {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys(s3)}
    changed = dict(FILES, **{"saved_model.pb": b"another graph", "assets/vocab.txt": b"a\nb\n"})
    other = make_version(tmp_path / "b", changed)
    with pytest.raises(PublishConflictError, match=r"assets/vocab\.txt, saved_model\.pb") as err:
        publish(other, BUCKET, s3_client=s3, show_progress=False)
    assert err.value.paths == ["assets/vocab.txt", "saved_model.pb"]
    assert {k: s3.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys(s3)} == snapshot


def test_verify_remote_names_corrupt_and_missing_objects(s3, version_dir: Path) -> None:
    publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    index = FILES["variables/variables.index"]
    s3.put_object(Bucket=BUCKET, Key=BASE + "variables/variables.index", Body=b"X" * len(index))
    s3.put_object(Bucket=BUCKET, Key=BASE + "saved_model.pb", Body=b"short")
    s3.delete_object(Bucket=BUCKET, Key=BASE + "assets.extra/tf_serving_warmup_requests")
    s3.put_object(Bucket=BUCKET, Key=BASE + "stray.txt", Body=b"?")

    report = verify_remote(BUCKET, "recommender", 3, s3_client=s3)
    assert not report.ok
    assert report.missing == ["assets.extra/tf_serving_warmup_requests"]
    by_path = {m["path"]: m for m in report.mismatched}
    assert set(by_path) == {"saved_model.pb", "variables/variables.index"}
    assert by_path["saved_model.pb"]["reason"] == "size"
    assert by_path["saved_model.pb"]["actual_size"] == 5
    corrupt = by_path["variables/variables.index"]
    assert corrupt["reason"] == "sha256"
    assert corrupt["expected_sha256"] == hashlib.sha256(index).hexdigest()
    assert corrupt["actual_sha256"] == hashlib.sha256(b"X" * len(index)).hexdigest()
    assert report.extra == ["stray.txt"]
    assert report.checked == len(FILES)
    text = report.summary()
    assert text.startswith("FAILED")
    for name in ("assets.extra/tf_serving_warmup_requests", "saved_model.pb", "variables/variables.index"):
        assert name in text


def test_verify_remote_without_manifest(s3, version_dir: Path) -> None:
    report = verify_remote(BUCKET, "recommender", 3, s3_client=s3)
    assert not report.ok and not report.manifest_found
    assert "manifest.json not found" in report.summary()


def test_interrupted_publish_leaves_no_manifest_and_resumes(s3, version_dir: Path, monkeypatch) -> None:
    real_put = s3.put_object
    calls = []

    def flaky_put(**kwargs):
        calls.append(kwargs["Key"])
        if len(calls) == 3:
            raise ConnectionError("network went away")
        return real_put(**kwargs)

    monkeypatch.setattr(s3, "put_object", flaky_put)
    with pytest.raises(ConnectionError):
        publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    assert BASE + MANIFEST_NAME not in keys(s3)
    assert len(keys(s3)) == 2
    assert not verify_remote(BUCKET, "recommender", 3, s3_client=s3).manifest_found

    monkeypatch.setattr(s3, "put_object", real_put)
    resumed = publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    assert len(resumed.skipped) == 2  # the two files that made it
    assert resumed.uploaded[-1] == MANIFEST_NAME
    assert verify_remote(BUCKET, "recommender", 3, s3_client=s3).ok


def test_multipart_upload_path(s3, tmp_path: Path) -> None:
    big = bytes(range(256)) * (6 * 4096)  # 6 MiB -> 2 parts of >= 5 MiB chunks
    files = dict(FILES, **{"variables/variables.data-00000-of-00001": big})
    version_dir = make_version(tmp_path, files)
    publish(version_dir, BUCKET, s3_client=s3, show_progress=False, parts=PartSizes(threshold=1 << 20, chunk=5 << 20))

    head = s3.head_object(Bucket=BUCKET, Key=BASE + "variables/variables.data-00000-of-00001",
                          ChecksumMode="ENABLED")
    assert head["ETag"].strip('"').endswith("-2")  # really a 2-part multipart upload
    assert "ChecksumSHA256" in head  # uploaded with SHA256 part checksums

    downloaded = []
    real_get = s3.get_object

    def spy_get(**kwargs):
        downloaded.append(kwargs["Key"])
        return real_get(**kwargs)

    s3.get_object = spy_get
    report = verify_remote(BUCKET, "recommender", 3, s3_client=s3)
    assert report.ok, report.summary()
    # Composite (multipart) checksums cannot be compared with the manifest: that
    # object is hashed; the single-part ones are checked by S3's stored SHA256.
    assert downloaded == [BASE + MANIFEST_NAME, BASE + "variables/variables.data-00000-of-00001"]


def test_publish_refuses_locally_corrupt_artifact(s3, version_dir: Path) -> None:
    (version_dir / "saved_model.pb").write_bytes(b"tampered" * 10)
    with pytest.raises(CorruptArtifactError, match="saved_model.pb"):
        publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    assert keys(s3) == []


def test_verify_local_reports_missing_mismatch_and_extra(version_dir: Path) -> None:
    assert verify_local(version_dir).ok
    (version_dir / "variables" / "variables.index").unlink()
    (version_dir / "saved_model.pb").write_bytes(b"g" * len(FILES["saved_model.pb"]))
    (version_dir / "notes.txt").write_text("unlisted")
    report = verify_local(version_dir)
    assert not report.ok
    assert report.missing == ["variables/variables.index"]
    assert [m["path"] for m in report.mismatched] == ["saved_model.pb"]
    assert report.mismatched[0]["reason"] == "sha256"
    assert report.extra == ["notes.txt"]


def test_verify_local_without_manifest(tmp_path: Path) -> None:
    (tmp_path / "saved_model.pb").write_bytes(b"x")
    report = verify_local(tmp_path)
    assert not report.ok and not report.manifest_found


def test_concurrent_identical_publish_is_accepted(s3, version_dir: Path, tmp_path: Path, monkeypatch) -> None:
    other = make_version(tmp_path / "b")  # same files, different created_at
    real_put = s3.put_object

    def racing_put(**kwargs):
        # Another publisher commits the same version between our plan and our commit.
        real_put(Bucket=BUCKET, Key=BASE + MANIFEST_NAME, Body=(other / MANIFEST_NAME).read_bytes())
        return real_put(**kwargs)

    monkeypatch.setattr(s3, "put_object", racing_put)
    result = publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    assert result.skipped == [MANIFEST_NAME]
    assert s3.get_object(Bucket=BUCKET, Key=BASE + MANIFEST_NAME)["Body"].read() == (
        other / MANIFEST_NAME
    ).read_bytes()


def test_concurrent_different_publish_is_a_conflict(s3, version_dir: Path, tmp_path: Path, monkeypatch) -> None:
    other = make_version(tmp_path / "b", dict(FILES, **{"saved_model.pb": b"rival graph"}))
    real_put = s3.put_object

    def racing_put(**kwargs):
        real_put(Bucket=BUCKET, Key=BASE + MANIFEST_NAME, Body=(other / MANIFEST_NAME).read_bytes())
        return real_put(**kwargs)

    monkeypatch.setattr(s3, "put_object", racing_put)
    with pytest.raises(PublishConflictError, match=r"saved_model\.pb.*published concurrently"):
        publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    assert s3.get_object(Bucket=BUCKET, Key=BASE + MANIFEST_NAME)["Body"].read() == (
        other / MANIFEST_NAME
    ).read_bytes()


def test_verify_remote_reports_invalid_manifest(s3, version_dir: Path) -> None:
    publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    s3.put_object(Bucket=BUCKET, Key=BASE + MANIFEST_NAME, Body=b'{"format": 1}')
    report = verify_remote(BUCKET, "recommender", 3, s3_client=s3)
    assert not report.ok and report.manifest_found
    assert "missing required keys: created_at, files, model_name, version" in report.errors[0]


def test_verify_remote_rejects_manifest_of_another_version(s3, version_dir: Path) -> None:
    publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    body = s3.get_object(Bucket=BUCKET, Key=BASE + MANIFEST_NAME)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key="models/recommender/4/" + MANIFEST_NAME, Body=body)
    report = verify_remote(BUCKET, "recommender", 4, s3_client=s3)
    assert not report.ok
    assert report.errors == ["manifest describes recommender/3, not recommender/4"]


def test_publish_shows_byte_progress_on_a_terminal_only(s3, version_dir: Path, capsys, monkeypatch) -> None:
    import sys

    publish(version_dir, BUCKET, s3_client=s3, show_progress=True)
    assert capsys.readouterr().err == ""  # redirected: no ANSI / carriage-return bar
    s3.delete_object(Bucket=BUCKET, Key=BASE + MANIFEST_NAME)
    for entry in json.loads((version_dir / MANIFEST_NAME).read_text())["files"]:
        s3.delete_object(Bucket=BUCKET, Key=BASE + entry["path"])
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    publish(version_dir, BUCKET, s3_client=s3, show_progress=True)
    err = capsys.readouterr().err
    assert "publish" in err and "100%" in err


def test_publish_reports_the_committed_manifest_digest(s3, version_dir: Path) -> None:
    first = publish(version_dir, BUCKET, s3_client=s3, show_progress=False)
    committed = s3.get_object(Bucket=BUCKET, Key=BASE + MANIFEST_NAME)["Body"].read()
    assert first.manifest_sha256 == hashlib.sha256(committed).hexdigest()
    again = publish(version_dir, BUCKET, s3_client=s3, show_progress=False)  # already there: same digest
    assert again.manifest_sha256 == first.manifest_sha256
    assert verify_remote(BUCKET, "recommender", 3, s3_client=s3).manifest_sha256 == first.manifest_sha256


def test_default_client_uses_adaptive_retries() -> None:
    from recsys_dr.model.verify import make_s3_client

    with mock_aws():
        client = make_s3_client("us-east-1")
    # botocore's max_attempts=10 counts retries: 1 initial call + 10 retries.
    assert client.meta.config.retries == {"mode": "adaptive", "total_max_attempts": 11}


def test_every_object_is_created_conditionally(s3, tmp_path: Path) -> None:
    # The model buckets' policy (components/storage/policies.py) denies any object creation
    # under models/ without `s3:if-none-match`: every PutObject and CompleteMultipartUpload
    # must carry If-None-Match: *, single-part and multipart alike.
    sent: list[tuple[str, object]] = []

    def record(params, model, **_):
        sent.append((model.name, params.get("IfNoneMatch")))

    for operation in ("PutObject", "CompleteMultipartUpload"):
        s3.meta.events.register(f"provide-client-params.s3.{operation}", record)
    big = bytes(range(256)) * (6 * 4096)
    version_dir = make_version(tmp_path, dict(FILES, **{"variables/variables.data-00000-of-00001": big}))
    publish(version_dir, BUCKET, s3_client=s3, show_progress=False, parts=PartSizes(threshold=1 << 20, chunk=5 << 20))
    assert {name for name, _ in sent} == {"PutObject", "CompleteMultipartUpload"}
    assert all(condition == "*" for _, condition in sent), sent


def test_an_existing_object_with_other_content_is_a_conflict(s3, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"ours")
    s3.put_object(Bucket=BUCKET, Key=BASE + "f.bin", Body=b"theirs", Metadata={"sha256": "0" * 64})
    with pytest.raises(PublishConflictError, match=r"f.bin.*\(written concurrently\)"):
        put_if_absent(s3, BUCKET, BASE + "f.bin", path, sha256="1" * 64, size=4)
