"""`training`: the model build as an indexed Job on the primary region's GPU pool (opt-in)."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from recsys_dr.components.settings.aws_limits import MEMORY_QUANTITY
from recsys_dr.components.settings.base import Settings, cpu_quantity, problem, setting

# s3://bucket/key: bucket naming rules (S3 user guide, "General purpose bucket naming rules":
# 3-63 lowercase letters, digits, dots, hyphens, starting and ending with a letter or digit).
S3_URI = r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$"
# A Secret name is a DNS-1123 subdomain (Kubernetes "Object Names and IDs").
SECRET_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class TrainingSettings(Settings):
    """The training Job (`recsys-dr train` starts one): its image, workers and data."""

    enabled: bool = setting(False, description="Create the training Job's namespace, role and template in the primary cluster.",
                            allowed="true or false")
    image: str | None = setting(
        None, description="Image with recsys-dr[model] installed, pinned by digest (it reads the data and publishes versions).",
        allowed="a container image reference", min_length=1,
    )
    workers: int = setting(2, description="Worker pods (MultiWorkerMirroredStrategy; worker 0 evaluates and publishes).",
                           allowed="an integer from 1 to 64", ge=1, le=64,
                           limit="each worker is a GPU node; more is a capacity request, not a setting")
    gpus_per_worker: int = setting(1, description="`nvidia.com/gpu` per worker pod (its replicas, MirroredStrategy inside).",
                                   allowed="an integer from 1 to 8", ge=1, le=8, limit="the largest GPU instances have 8 GPUs")
    cpu: str = setting("3", description="CPU request and limit of a worker.", allowed='a Kubernetes CPU quantity such as "3" or "1500m"')
    memory: str = setting("12Gi", description="Memory request and limit of a worker.",
                          allowed="a Kubernetes memory quantity such as 12Gi or 16384Mi", pattern=MEMORY_QUANTITY.pattern)
    interactions: str | None = setting(
        None, description="s3:// prefix of the interaction log's Parquet shards (each user in one shard); the Job may read it.",
        allowed="an s3://bucket/prefix/ URI", pattern=S3_URI,
    )
    catalog: str | None = setting(None, description="s3:// URI of the catalog file (in the same bucket as the interactions).",
                                  allowed="an s3://bucket/key URI", pattern=S3_URI)
    pseudonym_key_secret: str | None = setting(
        None, description="Kubernetes Secret in the training namespace whose `key` entry is the pseudonymisation key.",
        allowed="a Kubernetes Secret name", pattern=SECRET_NAME,
    )
    build_args: list[str] = setting(
        default_factory=list, description="More `python -m recsys_dr.model build` options, e.g. [--epochs, '10', --batch-size, '4096'].",
        allowed="a list of strings",
    )

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu(cls, value: object) -> str:
        return cpu_quantity(value)

    @model_validator(mode="after")
    def _complete(self) -> TrainingSettings:
        if self.enabled:
            missing = [k for k, v in (("image", self.image), ("interactions", self.interactions), ("catalog", self.catalog),
                                      ("pseudonymKeySecret", self.pseudonym_key_secret)) if v is None]
            if missing:
                raise problem(f"`{{key}}` with enabled: true needs {', '.join(missing)}. Received: none")
            if bucket_of(self.interactions) != bucket_of(self.catalog):
                raise problem(f"`{{key}}.catalog` must be in the bucket of `interactions` ({bucket_of(self.interactions)}): "
                              f"the Job's role reads that bucket only. Received: {self.catalog!r}")
        return self

    @property
    def data_bucket(self) -> str:
        return bucket_of(self.interactions or "")


def bucket_of(uri: str) -> str:
    """The bucket of `s3://bucket/key`."""
    return uri[len("s3://"):].split("/", 1)[0]
