"""The release record, and the lock it is: one S3 object per tier, written only by compare-and-swap.

`releases/<tier>.json` in the primary's model bucket holds the current (or last) release of a
tier. S3 is strongly consistent for reads after writes (S3 User Guide, "Amazon S3 data
consistency model"), and conditional writes make every change a compare-and-swap (S3 User Guide,
"Add preconditions to S3 operations with conditional requests"):

* starting a release writes the record with `If-None-Match: *` when there is none, or with
  `If-Match: <ETag>` of a finished one: of two starters, S3 lets exactly one write succeed and
  answers the other 412 Precondition Failed (or 409 ConditionalRequestConflict while the first
  write is in flight), so a second release cannot start over a running one;
* every later change of the record carries `If-Match` with the ETag the writer read, so two
  `recsys-dr release advance` runs cannot both move the same release: the second gets a 412 and
  stops before it touches traffic.

Nothing is ever deleted: a finished record stays until the next release replaces it, and bucket
versioning keeps every earlier one. The bucket policy guards `models/` only; the prefix
`releases/` is not replicated (the replication rule copies `models/`).
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

PREFIX = "releases/"
# Active states hold the lock; the others are finished.
ACTIVE = ("running", "awaiting-stable-pin", "awaiting-candidate-removal")
FINISHED = ("promoted", "rolled-back", "aborted", "refused")


class LockHeld(RuntimeError):
    """Another release of this tier is active."""

    def __init__(self, record: "ReleaseRecord"):
        self.record = record
        super().__init__(f"release {record.id} of v{record.candidate['version']} is {record.state} (step {record.step}, "
                         f"started {record.started_at}): `recsys-dr release advance` resumes it, "
                         "`recsys-dr release abort` ends it")


class LockLost(RuntimeError):
    """The record changed since it was read: another run moved this release."""


@dataclass
class ReleaseRecord:
    id: str
    tier: str
    environment: str
    model: str
    candidate: dict  # {version, manifestSha256, image}
    stable: dict  # role -> {version, manifestSha256, image} when the release started
    state: str = "running"
    step: int = 0
    shares: dict = field(default_factory=dict)  # role -> candidate share in percent
    accepted_quality_drop: bool = False
    baseline: dict | None = None
    history: list = field(default_factory=list)  # report rows, every run appends its own
    reasons: list = field(default_factory=list)
    started_at: str = ""
    updated_at: str = ""

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ReleaseRecord":
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def new_id(now: datetime) -> str:
    return now.strftime("r%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


def stamp(now: datetime) -> str:
    return now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _precondition_failed(exc: Exception) -> bool:
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    code = exc.response.get("Error", {}).get("Code")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412)


class ReleaseStore:
    """The record of one tier in one bucket.

    Args:
        s3: boto3 S3 client in the bucket's region.
        bucket: the primary's model bucket.
        tier: the tier's name (the object key).
    """

    def __init__(self, s3: Any, bucket: str, tier: str):
        self.s3, self.bucket, self.key = s3, bucket, f"{PREFIX}{tier}.json"
        self.etag: str | None = None

    def read(self) -> ReleaseRecord | None:
        from botocore.exceptions import ClientError

        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
                self.etag = None
                return None
            raise
        self.etag = answer["ETag"]
        return ReleaseRecord.from_dict(json.loads(answer["Body"].read()))

    def _put(self, record: ReleaseRecord, **condition: str) -> None:
        body = json.dumps(record.to_dict(), indent=2, sort_keys=True, default=str).encode()
        try:
            answer = self.s3.put_object(Bucket=self.bucket, Key=self.key, Body=body, ContentType="application/json",
                                        **condition)
        except Exception as exc:
            if _precondition_failed(exc):
                raise LockLost(f"s3://{self.bucket}/{self.key} changed since it was read: another "
                               "`recsys-dr release` run moved this release; nothing more was changed") from None
            raise
        self.etag = answer["ETag"]

    def acquire(self, record: ReleaseRecord) -> None:
        """Write a new active record; `LockHeld` if one is active, `LockLost` if another starter won."""
        current = self.read()
        if current is not None and current.active:
            raise LockHeld(current)
        self._put(record, **({"IfMatch": self.etag} if current is not None else {"IfNoneMatch": "*"}))

    def save(self, record: ReleaseRecord) -> None:
        """Replace the record this store read or wrote last (compare-and-swap on its ETag)."""
        if self.etag is None:
            raise LockLost(f"s3://{self.bucket}/{self.key} was not read before the write")
        self._put(record, IfMatch=self.etag)
