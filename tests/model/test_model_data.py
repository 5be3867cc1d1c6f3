"""Loading, validation, pseudonymisation and splitting (no TensorFlow needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys_dr.model.data import DEV_PSEUDONYM_KEY, PSEUDONYM_KEY_ENV, DataError, load_dataset, pseudonymise, resolve_pseudonym_key
from recsys_dr.model.movielens import derive_query, load_movielens_100k
from recsys_dr.model.split import leave_last_out, pad_history
from recsys_dr.model.synthetic import SyntheticConfig, generate

CATALOG = "item_id,title,category\nA,Red Shoe,shoes\nB,Blue Shoe,shoes\nC,Grey Lamp,lamps\n"
INTER = (
    "user_id,item_id,timestamp,query\n"
    "alice,A,100,red shoes\n"
    "alice,B,200,\n"
    "alice,C,300,lamp\n"
    "bob,C,50,lamp\n"
    "bob,A,60,\n"
)


@pytest.fixture
def files(tmp_path):
    def write(inter: str | bytes = INTER, catalog: str = CATALOG, suffix: str = ".csv"):
        i, c = tmp_path / f"inter{suffix}", tmp_path / "catalog.csv"
        (i.write_bytes if isinstance(inter, bytes) else i.write_text)(inter)
        c.write_text(catalog)
        return i, c

    return write


def test_user_ids_are_pseudonymised_with_the_key(files):
    ds = load_dataset(*files(), pseudonym_key="k1")
    assert not ({"alice", "bob"} & set(ds.interactions["user_id"]))
    assert set(ds.interactions["user_id"]) == set(pseudonymise(pd.Series(["alice", "bob"]), "k1"))
    assert pseudonymise(pd.Series(["alice"]), "k1")[0] != pseudonymise(pd.Series(["alice"]), "k2")[0]


def test_pseudonym_key_comes_from_env_then_dev_default(monkeypatch):
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "from-env")
    assert resolve_pseudonym_key(None) == "from-env"
    assert resolve_pseudonym_key("explicit") == "explicit"
    monkeypatch.delenv(PSEUDONYM_KEY_ENV)
    assert resolve_pseudonym_key(None) == DEV_PSEUDONYM_KEY
    with pytest.raises(DataError, match="need a secret pseudonymisation key"):
        resolve_pseudonym_key(None, allow_dev_key=False)


def test_real_files_never_fall_back_to_the_dev_key(files, monkeypatch):
    monkeypatch.delenv(PSEUDONYM_KEY_ENV, raising=False)
    with pytest.raises(DataError, match="--allow-dev-key only for test data"):
        load_dataset(*files())
    ds = load_dataset(*files(), allow_dev_key=True)
    assert set(ds.interactions["user_id"]) == set(pseudonymise(pd.Series(["alice", "bob"]), DEV_PSEUDONYM_KEY))
    monkeypatch.setenv(PSEUDONYM_KEY_ENV, "from-env")
    ds = load_dataset(*files())
    assert set(ds.interactions["user_id"]) == set(pseudonymise(pd.Series(["alice", "bob"]), "from-env"))


def test_missing_file_is_named(files, tmp_path):
    i, c = files()
    with pytest.raises(DataError, match=r"interactions file .*nope\.csv does not exist"):
        load_dataset(tmp_path / "nope.csv", c, pseudonym_key="k")
    with pytest.raises(DataError, match=r"catalog file .*nope\.csv does not exist"):
        load_dataset(i, tmp_path / "nope.csv", pseudonym_key="k")


def test_missing_column_is_named(files):
    with pytest.raises(DataError, match="missing required column\\(s\\) timestamp"):
        load_dataset(*files("user_id,item_id\nu,A\n"), pseudonym_key="k")


def test_empty_file(files):
    with pytest.raises(DataError, match="is empty"):
        load_dataset(*files(""), pseudonym_key="k")


def test_header_only_file(files):
    with pytest.raises(DataError, match="header but no rows"):
        load_dataset(*files("user_id,item_id,timestamp\n"), pseudonym_key="k")


def test_non_utf8_bytes_are_reported_with_line(files):
    bad = INTER.encode() + b"carol,A,400,caf\xe9\n"
    with pytest.raises(DataError, match=r"not valid UTF-8: byte 0xe9 .*\(line 7\)"):
        load_dataset(*files(bad), pseudonym_key="k")


def test_null_user_id(files):
    with pytest.raises(DataError, match="column user_id has 1 empty value"):
        load_dataset(*files(INTER + ",A,500,\n"), pseudonym_key="k")


@pytest.mark.parametrize("row, column", [("carol,,500,\n", "item_id"), ("carol,A,,\n", "timestamp")])
def test_null_item_id_or_timestamp(files, row, column):
    with pytest.raises(DataError, match=f"column {column} has 1 empty value\\(s\\), first at data row 6"):
        load_dataset(*files(INTER + row), pseudonym_key="k")


def test_bad_timestamp(files):
    with pytest.raises(DataError, match="timestamp 'yesterday' at data row 6"):
        load_dataset(*files(INTER + "carol,A,yesterday,\n"), pseudonym_key="k")


def test_iso_timestamps_are_parsed(files):
    ds = load_dataset(*files("user_id,item_id,timestamp\nu,A,2024-01-01T00:00:00Z\n"), pseudonym_key="k")
    assert ds.interactions["timestamp"].tolist() == [1704067200]


def test_duplicate_rows_are_dropped_and_counted(files):
    ds = load_dataset(*files(INTER + "alice,A,100,red shoes\n"), pseudonym_key="k")
    assert ds.report.duplicates_dropped == 1
    assert len(ds.interactions) == 5


def test_unknown_items_are_dropped_or_rejected_when_strict(files):
    i, c = files(INTER + "bob,ZZZ,70,\n")
    ds = load_dataset(i, c, pseudonym_key="k")
    assert ds.report.unknown_items_dropped == 1
    assert "ZZZ" not in set(ds.interactions["item_id"])
    with pytest.raises(DataError, match=r"not in the catalog, e.g. \['ZZZ'\]"):
        load_dataset(i, c, pseudonym_key="k", strict=True)


def test_exact_duplicate_catalog_rows_are_dropped_and_counted(files):
    ds = load_dataset(*files(catalog=CATALOG + "A,Red Shoe,shoes\nC, Grey Lamp ,lamps\n"), pseudonym_key="k")
    assert ds.report.catalog_duplicates_dropped == 2  # after stripping whitespace
    assert ds.catalog["item_id"].tolist() == ["A", "B", "C"]
    assert ds.report.to_dict()["catalog_duplicates_dropped"] == 2


def test_conflicting_catalog_rows(files):
    with pytest.raises(DataError, match=r"item id\(s\) \['A'\] appear with different"):
        load_dataset(*files(catalog=CATALOG + "A,Other,shoes\n"), pseudonym_key="k")


def test_item_ids_with_a_line_break_are_refused(files):
    # The artifact ships the ids one per line for TF's TextFileInitializer (model.export).
    with pytest.raises(DataError, match=r"item id\(s\) with a line break: \['D\\nE'\]"):
        load_dataset(*files(catalog=CATALOG + '"D\nE",Two Lines,lamps\n'), pseudonym_key="k")


def test_parquet_input(files, tmp_path):
    p = tmp_path / "inter.parquet"
    pd.read_csv(pd.io.common.StringIO(INTER)).to_parquet(p)
    ds = load_dataset(p, files()[1], pseudonym_key="k")
    assert len(ds.interactions) == 5


def test_leave_last_out_is_chronological_per_user(files):
    ds = load_dataset(*files(), pseudonym_key="k")
    split = leave_last_out(ds, history_length=2)
    alice = pseudonymise(pd.Series(["alice"]), "k")[0]
    t = split.test.user.tolist().index(alice)
    assert split.test.target[t] == "C"
    assert split.test.history[t].tolist() == ["A", "B"]
    assert split.train_sequences[alice] == ["A"]  # "B" is alice's validation item
    v = split.validation.user.tolist().index(alice)
    assert split.validation.target[v] == "B" and split.validation.past[v] == ["A"]
    # every training example's target precedes the user's validation and test items
    assert len(split.train) == 2 and len(split.validation) == 1 and len(split.test) == 2
    assert ["", ""] in split.train.history.tolist()


def test_a_basket_column_in_a_file_groups_the_split(files):
    inter = "user_id,item_id,timestamp,basket_id\nalice,A,100,k1\nalice,B,100,k1\nalice,C,200,k2\nalice,A,300,k3\n"
    ds = load_dataset(*files(inter=inter), pseudonym_key="k")
    split = leave_last_out(ds, history_length=3)
    assert split.validation.target.tolist() == ["C"] and split.validation.history[0].tolist() == ["", "A", "B"]
    assert split.train.history.tolist() == [["", "", ""], ["", "", ""]]  # A and B were bought together


def test_history_is_truncated_and_left_padded():
    assert pad_history(list("abcde"), 3) == ["c", "d", "e"]
    assert pad_history(["a"], 3) == ["", "", "a"]
    with pytest.raises(ValueError, match="`history_length` must be >= 1"):
        pad_history([], 0)


def test_synthetic_is_seeded():
    a = generate(SyntheticConfig(num_users=30, seed=5), pseudonym_key="k").interactions
    b = generate(SyntheticConfig(num_users=30, seed=5), pseudonym_key="k").interactions
    c = generate(SyntheticConfig(num_users=30, seed=6), pseudonym_key="k").interactions
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)
    assert a["query"].str.len().gt(0).mean() > 0.5


def test_movielens_stop_words_are_the_documented_25():
    from recsys_dr.model.movielens import STOP_WORDS

    documented = ("the and for with from that this his her its les los las der die das des une "
                  "one two three are was who what").split()  # docs/model.md, "MovieLens-100K"
    assert len(documented) == 25 and STOP_WORDS == frozenset(documented)


def test_movielens_query_derivation():
    assert derive_query("Usual Suspects, The", "Crime Thriller") == "crime thriller usual"
    assert derive_query("Star Wars", "Action Adventure Romance Sci-Fi War") == "action adventure romance scifi war star"
    assert derive_query("Misérables, Les", "Drama Musical", title_words=2) == "drama musical miserables"
    assert derive_query("Some Film (Alt Title)", "Children's Film-Noir unknown") == "childrens filmnoir some"


def test_movielens_loads_from_the_recbole_wheel():
    ds = load_movielens_100k(pseudonym_key="k")
    assert len(ds.interactions) == 100_000
    assert len(ds.catalog) == 1682
    assert ds.interactions["user_id"].nunique() == 943
    assert ds.interactions["user_id"].str.startswith("u_").all()
    assert (ds.interactions["query"] == "").all()  # history only by default
    assert np.all(ds.interactions["item_id"].isin(set(ds.catalog["item_id"])))
    derived = load_movielens_100k(pseudonym_key="k", queries=True)
    toy = derived.interactions.loc[derived.interactions["item_id"] == "1", "query"].iloc[0]
    assert toy == "animation childrens comedy toy" and derived.name == "movielens-100k-derived-queries"


def test_complete_journey_loads_from_its_wheel_with_baskets():
    from recsys_dr.model.completejourney import NAME, load_complete_journey

    ds = load_complete_journey(pseudonym_key="k")
    inter = ds.interactions
    assert len(inter) == 1_469_307 and inter["user_id"].nunique() == 2_469
    assert "simulated" in ds.name and ds.name == NAME  # labelled as the package's README describes it
    assert inter["user_id"].str.startswith("u_").all()
    assert len(ds.catalog) == inter["item_id"].nunique() == 68_509 and inter["item_id"].isin(set(ds.catalog["item_id"])).all()
    assert inter.groupby("basket_id")["timestamp"].nunique().max() == 1  # one time per basket
    assert (inter["query"] == "").all() and (inter["event_type"] == "purchase").all()


def test_synthetic_staples_make_re_buys_a_large_share_of_the_held_out_items():
    from recsys_dr.model.split import leave_last_out

    def repeat_share(staples: int) -> float:
        data = generate(SyntheticConfig(num_users=300, staples=staples, seed=2), pseudonym_key="k")
        return float(leave_last_out(data, 20).test.is_repeat().mean())

    assert repeat_share(3) > 0.5 > 0.25 > repeat_share(0)


def test_synthetic_staples_come_back_on_their_cycle():
    data = generate(SyntheticConfig(num_users=50, staples=1, cycle_min=4, cycle_max=4, staple_rate=1.0,
                                    companion_rate=0.0, seed=4), pseudonym_key="k")
    seq = data.interactions.sort_values("timestamp").groupby("user_id")["item_id"].apply(list)
    gaps = []
    for items in seq:
        top = max(set(items), key=items.count)
        where = [i for i, it in enumerate(items) if it == top]
        gaps += list(np.diff(where))
    assert np.median(gaps) == 4  # re-bought every `period` events once due


def test_synthetic_config_is_validated():
    with pytest.raises(ValueError, match="`cycle_min` must be >= 1 and <= `cycle_max`. Received: 5, 2"):
        SyntheticConfig(cycle_min=5, cycle_max=2)
