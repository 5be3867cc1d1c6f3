"""MovieLens-100K, read from the files shipped inside the installed ``recbole`` wheel.

The files are read with :mod:`importlib.resources` from
``recbole/dataset_example/ml-100k/`` (``ml-100k.inter``, ``ml-100k.item``); they are never
copied into this repository. Install with ``pip install --no-deps recbole``.

Every rating is an interaction (ratings are not used; ``event_type`` is ``"rating"``).
The catalog is the 1,682 movies: title, and the genres as the category.

MovieLens has no search queries. By default (``queries=False``) every query is "": the
model sees the history only, which is the honest measure of a recommender. With
``queries=True`` each interaction's **query is derived from its target movie** by
:func:`derive_query` (training targets and held-out items alike) - the answer is then partly
in the input, so that variant measures the query tower, not recommendation:

1. genres: every genre of the movie, lower-cased with non-letters removed, in file order
   (``Children's`` -> ``childrens``, ``Sci-Fi`` -> ``scifi``, ``Film-Noir`` -> ``filmnoir``;
   the genre ``unknown`` is skipped);
2. title words: the title without any parenthesised part (alternative titles), accents
   folded to ASCII, lower-cased, split on non-alphanumerics; words of fewer than 3
   characters, numbers and the stop words in :data:`STOP_WORDS` are removed; the first
   ``title_words`` remaining words (default 1) are kept;
3. query = genres followed by title words, joined with single spaces.

Example: ``Usual Suspects, The`` / ``Crime Thriller`` -> ``"crime thriller usual"``;
``Star Wars`` / ``Action Adventure Romance Sci-Fi War`` ->
``"action adventure romance scifi war star"``.
"""

from __future__ import annotations

import io
import re
import unicodedata
from importlib import resources

import pandas as pd

from recsys_dr.model.data import DataError, DataReport, Dataset, pseudonymise, resolve_pseudonym_key

STOP_WORDS = frozenset(
    "the and for with from that this his her its les los las der die das des une "
    "one two three are was who what".split()
)
_RESOURCE = ("recbole", "dataset_example", "ml-100k")


def _read(name: str) -> pd.DataFrame:
    try:
        root = resources.files(_RESOURCE[0])
    except ModuleNotFoundError:
        raise DataError("MovieLens-100K needs the recbole wheel: pip install --no-deps recbole") from None
    res = root.joinpath(*_RESOURCE[1:], name)
    if not res.is_file():
        raise DataError(f"{name} not found inside the installed recbole package ({root})")
    text = res.read_text(encoding="utf-8")
    df = pd.read_csv(io.StringIO(text), sep="\t", dtype=str, keep_default_na=False)
    df.columns = [c.split(":")[0] for c in df.columns]  # "item_id:token" -> "item_id"
    return df


def _genre_tokens(genres: str) -> list[str]:
    out = []
    for g in genres.split():
        tok = re.sub(r"[^a-z]", "", g.lower())
        if tok and tok != "unknown":
            out.append(tok)
    return out


def _title_tokens(title: str) -> list[str]:
    title = re.sub(r"\([^)]*\)", " ", title)
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.split(r"[^a-z0-9]+", ascii_title.lower())
    return [w for w in words if len(w) >= 3 and not w.isdigit() and w not in STOP_WORDS]


def derive_query(title: str, genres: str, title_words: int = 1) -> str:
    """Return the synthetic search query for a movie (see module docstring).

    Args:
        title: movie title as in ``ml-100k.item``.
        genres: space-separated genres as in ``ml-100k.item``.
        title_words: number of title words appended after the genres; default 1.

    >>> derive_query("Usual Suspects, The", "Crime Thriller")
    'crime thriller usual'
    """
    return " ".join(_genre_tokens(genres) + _title_tokens(title)[: max(title_words, 0)])


def load_movielens_100k(*, pseudonym_key: str | None = None, title_words: int = 1, queries: bool = False) -> Dataset:
    """Load MovieLens-100K from the recbole wheel.

    Args:
        pseudonym_key: HMAC key for user ids; default None -> ``resolve_pseudonym_key``.
        title_words: title words per derived query (with ``queries``); default 1.
        queries: derive each interaction's query from its target movie; default False (history only).
    """
    items = _read("ml-100k.item")
    catalog = pd.DataFrame(
        {
            "item_id": items["item_id"].str.strip(),
            "title": items["movie_title"],
            "category": items["class"],
        }
    )
    derived = {
        row.item_id: derive_query(row.title, row.category, title_words) for row in catalog.itertuples()
    }
    inter = _read("ml-100k.inter")
    df = pd.DataFrame(
        {
            "user_id": pseudonymise(inter["user_id"], resolve_pseudonym_key(pseudonym_key)),
            "item_id": inter["item_id"].str.strip(),
            "timestamp": pd.to_numeric(inter["timestamp"]).astype("int64"),
        }
    )
    df["query"] = df["item_id"].map(derived).fillna("") if queries else ""
    df["event_type"] = "rating"
    report = DataReport(rows_read=len(df))
    return Dataset("movielens-100k" + ("-derived-queries" if queries else ""), df, catalog, report)
