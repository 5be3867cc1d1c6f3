"""Load, validate and pseudonymise interaction logs and catalogs.

Interaction log (CSV or Parquet) columns:

* ``user_id`` (required) - raw shopper id. Replaced by a keyed hash on load (see
  :func:`pseudonymise`); no raw id leaves this module.
* ``item_id`` (required) - catalog item id.
* ``timestamp`` (required) - epoch seconds (int/float) or an ISO-8601 string.
* ``query`` (optional) - the search text typed before the interaction; missing -> "".
* ``event_type`` (optional) - e.g. ``view`` / ``purchase``; missing -> "view".
* ``basket_id`` (optional) - lines of one user with the same basket id were bought together:
  the split holds out whole baskets (see :mod:`model.split`); missing -> every interaction is
  its own basket.

Catalog columns: ``item_id``, ``title``, ``category`` (all required).

User ids of real files are pseudonymised with ``$RECSYS_PSEUDONYM_KEY`` / ``--pseudonym-key-file``;
:func:`load_dataset` refuses (:class:`DataError`) to fall back to the public development
key unless ``allow_dev_key=True`` (``--allow-dev-key``).

Treatment of bad input (each one tested in ``tests/model/test_model_data.py``):

* missing file, empty file, missing required column, null ``user_id`` / ``item_id`` /
  ``timestamp``, unparsable timestamp, non-UTF-8 bytes -> :class:`DataError` naming the
  file, the column / line and what is allowed;
* exact duplicate interactions (same user, item, timestamp, event type) -> the
  duplicates are dropped and counted in :class:`DataReport` ``duplicates_dropped``;
* interactions whose item id is not in the catalog -> dropped and counted in
  ``unknown_items_dropped`` (``strict=True`` raises instead), so histories only ever
  contain catalog items. At serving time unknown ids are ignored inside the graph;
* duplicate catalog rows: exact duplicates dropped, conflicting rows for one item id
  -> :class:`DataError`.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

log = logging.getLogger(__name__)

PSEUDONYM_KEY_ENV = "RECSYS_PSEUDONYM_KEY"
DEV_PSEUDONYM_KEY = "recsys-dr-dev-only-pseudonym-key"
"""Key used when neither ``--pseudonym-key-file`` nor ``$RECSYS_PSEUDONYM_KEY`` is set.
For development only: anyone who knows it can re-identify users by brute force."""

INTERACTION_COLUMNS = ("user_id", "item_id", "timestamp")
CATALOG_COLUMNS = ("item_id", "title", "category")


class DataError(ValueError):
    """Input data that cannot be used; the message names the file, column and problem."""


@dataclass
class DataReport:
    """What loading did to the input (so that no treatment is silent)."""

    rows_read: int = 0
    duplicates_dropped: int = 0
    unknown_items_dropped: int = 0
    catalog_duplicates_dropped: int = 0

    def to_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "duplicates_dropped": self.duplicates_dropped,
            "unknown_items_dropped": self.unknown_items_dropped,
            "catalog_duplicates_dropped": self.catalog_duplicates_dropped,
        }


@dataclass
class Dataset:
    """Pseudonymised interactions plus the catalog they refer to.

    Args:
        name: short label, e.g. ``"synthetic"`` or ``"movielens-100k"``.
        interactions: columns user_id (pseudonym), item_id, timestamp (int64 seconds),
            query, event_type; one row per interaction.
        catalog: columns item_id, title, category; one row per item.
        report: treatments applied while loading.
    """

    name: str
    interactions: pd.DataFrame
    catalog: pd.DataFrame
    report: DataReport = field(default_factory=DataReport)

    @property
    def item_ids(self) -> list[str]:
        """Catalog item ids in catalog order (the model's output order)."""
        return self.catalog["item_id"].tolist()


def resolve_pseudonym_key(key: str | None = None, *, allow_dev_key: bool = True) -> str:
    """Return the pseudonymisation key: ``key``, else ``$RECSYS_PSEUDONYM_KEY``, else the dev key.

    Args:
        key: explicit key (``--pseudonym-key-file``'s content); default None.
        allow_dev_key: fall back to :data:`DEV_PSEUDONYM_KEY` when no key is given;
            default True (synthetic and MovieLens data). False for real logs.

    Raises:
        DataError: no key given and ``allow_dev_key`` is False.
    """
    if key:
        return key
    env = os.environ.get(PSEUDONYM_KEY_ENV)
    if env:
        return env
    if not allow_dev_key:
        raise DataError(
            f"real interaction files need a secret pseudonymisation key: set ${PSEUDONYM_KEY_ENV} "
            "(or pass --pseudonym-key-file). The public development key would let anyone re-identify "
            "users; pass --allow-dev-key only for test data that holds no real user ids"
        )
    log.warning("using the development pseudonym key; set $%s for real data", PSEUDONYM_KEY_ENV)
    return DEV_PSEUDONYM_KEY


def pseudonymise(user_ids: pd.Series, key: str) -> pd.Series:
    """Replace raw user ids by ``"u_" + HMAC-SHA256(key, id)[:16 hex]``.

    Args:
        user_ids: raw ids (any dtype; converted with ``str``).
        key: secret key; the same key gives the same pseudonyms across runs.
    """
    k = key.encode("utf-8")
    cache: dict[str, str] = {}

    def one(raw: object) -> str:
        s = str(raw)
        if s not in cache:
            cache[s] = "u_" + hmac.new(k, s.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
        return cache[s]

    return user_ids.map(one)


def read_table(path: str | Path, what: str) -> pd.DataFrame:
    """Read a CSV (UTF-8) or Parquet file into strings-or-numbers columns.

    Args:
        path: file ending in ``.parquet``/``.pq`` (Parquet) or anything else (CSV).
        what: label used in error messages, e.g. ``"interactions"``.

    Raises:
        DataError: missing file, empty file, non-UTF-8 bytes or unreadable content.
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{what} file {p} does not exist")
    if p.stat().st_size == 0:
        raise DataError(f"{what} file {p} is empty")
    try:
        if p.suffix.lower() in (".parquet", ".pq"):
            df = pd.read_parquet(p)
        else:
            raw = p.read_bytes()
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                line = raw[: err.start].count(b"\n") + 1
                raise DataError(
                    f"{what} file {p} is not valid UTF-8: byte 0x{raw[err.start]:02x} "
                    f"at offset {err.start} (line {line}); re-encode the file as UTF-8"
                ) from None
            df = pd.read_csv(p, dtype=str, keep_default_na=False, na_values=[""])
    except DataError:
        raise
    except pd.errors.EmptyDataError:
        raise DataError(f"{what} file {p} is empty") from None
    except Exception as err:  # pyarrow / pandas parser errors
        raise DataError(f"{what} file {p} could not be read: {err}") from None
    if df.empty:
        raise DataError(f"{what} file {p} has a header but no rows")
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _require(df: pd.DataFrame, columns: tuple[str, ...], what: str, source: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataError(
            f"{what} {source} is missing required column(s) {', '.join(missing)}. "
            f"Received columns: {', '.join(map(str, df.columns))}"
        )
    for c in columns:
        nulls = df[c].isna()
        if nulls.any():
            first = int(nulls.to_numpy().nonzero()[0][0])
            raise DataError(
                f"{what} {source}: column {c} has {int(nulls.sum())} empty value(s), "
                f"first at data row {first + 1}"
            )


def _timestamps(col: pd.Series, source: str) -> pd.Series:
    num = pd.to_numeric(col, errors="coerce")
    if num.notna().all():
        return num.astype("int64")
    parsed = pd.to_datetime(col.where(num.isna()), errors="coerce", utc=True, format="ISO8601")
    bad = num.isna() & parsed.isna()
    if bad.any():
        first = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(
            f"interactions {source}: timestamp {col.iloc[first]!r} at data row {first + 1} "
            "is neither epoch seconds nor an ISO-8601 date"
        )
    seconds = (parsed - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(seconds=1)
    return num.fillna(seconds).astype("int64")


def normalise_catalog(df: pd.DataFrame, source: str, report: DataReport) -> pd.DataFrame:
    """Validate a catalog frame; drop exact duplicates; reject conflicting duplicates."""
    _require(df, CATALOG_COLUMNS, "catalog", source)
    cat = df[list(CATALOG_COLUMNS)].astype(str).apply(lambda s: s.str.strip())
    before = len(cat)
    cat = cat.drop_duplicates()
    report.catalog_duplicates_dropped = before - len(cat)
    dup = cat["item_id"].duplicated(keep=False)
    if dup.any():
        ids = sorted(cat.loc[dup, "item_id"].unique())[:5]
        raise DataError(f"catalog {source}: item id(s) {ids} appear with different title/category")
    if (cat["item_id"] == "").any():
        raise DataError(f"catalog {source}: empty item_id")
    broken = cat["item_id"].str.contains(r"[\r\n]")
    if broken.any():  # the exported artifact lists the ids one per line
        raise DataError(f"catalog {source}: item id(s) with a line break: {cat.loc[broken, 'item_id'].tolist()[:5]!r}")
    return cat.reset_index(drop=True)


def normalise_interactions(
    df: pd.DataFrame,
    catalog: pd.DataFrame,
    *,
    pseudonym_key: str,
    source: str,
    report: DataReport,
    strict: bool = False,
) -> pd.DataFrame:
    """Validate, pseudonymise, de-duplicate and catalog-filter an interaction frame.

    Args:
        df: raw frame with at least user_id, item_id, timestamp.
        catalog: normalised catalog (see :func:`normalise_catalog`).
        pseudonym_key: key for :func:`pseudonymise`.
        source: file name or label for error messages.
        report: receives the counts of what was dropped.
        strict: raise on item ids missing from the catalog instead of dropping; default False.
    """
    _require(df, INTERACTION_COLUMNS, "interactions", source)
    out = pd.DataFrame(
        {
            # Pseudonymise first: nothing after this line sees a raw user id.
            "user_id": pseudonymise(df["user_id"].astype(str).str.strip(), pseudonym_key),
            "item_id": df["item_id"].astype(str).str.strip(),
            "timestamp": _timestamps(df["timestamp"], source),
            "query": df["query"].fillna("").astype(str) if "query" in df else "",
            "event_type": df["event_type"].fillna("view").astype(str) if "event_type" in df else "view",
        }
    )
    if "basket_id" in df:
        out["basket_id"] = df["basket_id"].fillna("").astype(str).str.strip().to_numpy()
    report.rows_read = len(out)
    before = len(out)
    out = out.drop_duplicates(subset=["user_id", "item_id", "timestamp", "event_type"])
    report.duplicates_dropped = before - len(out)
    known = out["item_id"].isin(set(catalog["item_id"]))
    if not known.all():
        unknown = sorted(out.loc[~known, "item_id"].unique())
        if strict:
            raise DataError(
                f"interactions {source}: {int((~known).sum())} row(s) refer to item ids not in the "
                f"catalog, e.g. {unknown[:5]}"
            )
        report.unknown_items_dropped = int((~known).sum())
        out = out[known]
    if out.empty:
        raise DataError(f"interactions {source}: no usable rows left after validation")
    return out.reset_index(drop=True)


def load_dataset(
    interactions_path: str | Path,
    catalog_path: str | Path,
    *,
    pseudonym_key: str | None = None,
    strict: bool = False,
    name: str | None = None,
    allow_dev_key: bool = False,
) -> Dataset:
    """Load an interaction log and a catalog from CSV/Parquet files.

    Args:
        interactions_path: interactions file (see module docstring for columns).
        catalog_path: catalog file.
        pseudonym_key: HMAC key; default None -> ``$RECSYS_PSEUDONYM_KEY``
            (:func:`resolve_pseudonym_key`).
        strict: raise on unknown item ids instead of dropping them; default False.
        name: dataset label; default the interactions file stem.
        allow_dev_key: use the public development key when no key is given; default
            False (real logs must not be pseudonymised with a public key).

    Raises:
        DataError: bad input (see the module docstring), or no key and not ``allow_dev_key``.
    """
    key = resolve_pseudonym_key(pseudonym_key, allow_dev_key=allow_dev_key)
    report = DataReport()
    catalog = normalise_catalog(read_table(catalog_path, "catalog"), str(catalog_path), report)
    inter = normalise_interactions(
        read_table(interactions_path, "interactions"),
        catalog,
        pseudonym_key=key,
        source=str(interactions_path),
        report=report,
        strict=strict,
    )
    return Dataset(name or Path(interactions_path).stem, inter, catalog, report)


def fingerprint(dataset: Dataset, **params: object) -> str:
    """Return ``"sha256:<hex>"`` over the (pseudonymised) data and the split parameters.

    Args:
        dataset: the loaded data.
        **params: anything else that changes the training examples (history length, ...).
    """
    h = hashlib.sha256()
    h.update(dataset.name.encode())
    h.update(repr(sorted(params.items())).encode())
    cols = ["user_id", "item_id", "timestamp", "query", "event_type"]
    cols += ["basket_id"] if "basket_id" in dataset.interactions else []
    inter = dataset.interactions[cols].sort_values(cols, kind="stable")
    h.update(inter.to_csv(index=False).encode("utf-8"))
    h.update(dataset.catalog.to_csv(index=False).encode("utf-8"))
    return "sha256:" + h.hexdigest()
