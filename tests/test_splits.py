import itertools

import numpy as np
import pandas as pd
import pytest

from conftest import frame
from recnotes.splits import (
    chrono_split,
    global_temporal_split,
    leakage_report,
    leave_last_out_split,
    random_split,
)


def pairs(df):
    return set(zip(df.userId, df.movieId))


def test_global_temporal_split_from_bug_report():
    rows = frame([(1, 10, 100), (1, 20, 200), (1, 30, 300), (2, 10, 400), (2, 40, 500), (2, 50, 600)])
    split = global_temporal_split(rows, train=4 / 6, validation=2 / 6)
    assert sorted(split.train.timestamp) == [100, 200, 300, 400]
    assert sorted(split.validation.timestamp) == [500, 600]
    assert split.test.empty
    assert split.train.timestamp.max() < split.validation.timestamp.min()
    assert leakage_report(split.train, split.validation).ok


def test_leakage_check_flags_per_user_leave_last_out():
    rows = frame([(1, 10, 100), (1, 20, 200), (1, 30, 300), (2, 10, 400), (2, 40, 500), (2, 50, 600)])
    split = leave_last_out_split(rows, n_test=1, n_validation=0)
    assert sorted(split.test.timestamp) == [300, 600]
    assert 500 in set(split.train.timestamp)
    report = leakage_report(split.train, split.test)
    assert not report.ok
    assert report.older.timestamp.tolist() == [300]  # test row older than train's newest (500)
    assert report.earlier_max_timestamp == 500
    assert report.overlap.empty
    assert "1 row(s) older than train's newest timestamp 500" in repr(report)


def test_leakage_check_flags_shared_pairs():
    train = frame([(1, 10, 100), (2, 20, 100)])
    test = frame([(1, 10, 200), (2, 30, 200)])
    report = leakage_report(train, test)
    assert pairs(report.overlap) == {(1, 10)} and report.older.empty and not report.ok


def test_global_split_ties_at_the_cut_for_every_row_order():
    rows = [(1, 10, 100), (1, 20, 200), (2, 10, 200), (2, 30, 200), (3, 40, 300)]
    for order in itertools.permutations(rows):
        split = global_temporal_split(frame(list(order)), train=0.4, validation=0.6)
        assert pairs(split.train) == {(1, 10)}
        assert set(split.train.timestamp).isdisjoint(split.validation.timestamp)
        assert set(split.validation.timestamp).isdisjoint(split.test.timestamp)


def test_chrono_split_fractions_by_hand():
    # user 1: 10 rows -> 8 / 1 / 1; user 2: 5 rows -> floor(4.0)=4 train, floor(4.5)=4 -> 0 validation, 1 test
    rows = [(1, 100 + i, 1000 - i) for i in range(10)] + [(2, 100 + i, 50 + i) for i in range(5)]
    split = chrono_split(frame(rows), drop_unseen_test_items=False)
    assert split.sizes() == {"train": 12, "validation": 1, "test": 2}
    # user 1's rows run backwards in time, so its newest rows are the smallest movieIds
    assert split.test[split.test.userId == 1].movieId.tolist() == [100]
    assert split.validation.movieId.tolist() == [101]
    assert split.test[split.test.userId == 2].movieId.tolist() == [104]


def test_chrono_split_breaks_time_ties_by_movie_id_and_drops_unseen_test_items():
    rows = frame([(1, 30, 5), (1, 20, 5), (1, 10, 5), (1, 40, 5), (1, 50, 5), (2, 10, 1), (2, 20, 2), (2, 60, 3)])
    split = chrono_split(rows, train=0.6, validation=0.2, drop_unseen_test_items=False)
    assert split.train[split.train.userId == 1].movieId.tolist() == [10, 20, 30]
    assert split.test[split.test.userId == 1].movieId.tolist() == [50]
    kept = chrono_split(rows, train=0.6, validation=0.2)
    assert 60 not in set(kept.test.movieId) and 50 not in set(kept.test.movieId)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_user_and_global_splits_do_not_depend_on_row_order(bundled, seed):
    sample = bundled.ratings[bundled.ratings.userId <= 60]
    shuffled = sample.sample(frac=1.0, random_state=seed)
    for make in (chrono_split, global_temporal_split, leave_last_out_split, lambda r: random_split(r, seed=3)):
        a, b = make(sample), make(shuffled)
        for part_a, part_b in zip(a, b):
            pd.testing.assert_frame_equal(part_a, part_b)


def test_chrono_split_of_bundled_data_matches_protocol_sizes(bundled):
    split = chrono_split(bundled.ratings)
    assert split.sizes() == {"train": 80_419, "validation": 10_059, "test": 9_397}
    assert split.train.movieId.nunique() == 8_230
    assert split.train.userId.nunique() == 610
    assert pairs(split.train).isdisjoint(pairs(split.test))


def test_random_split_is_seeded_complete_and_disjoint(bundled):
    r = bundled.ratings
    a, b, c = random_split(r, seed=7), random_split(r, seed=7), random_split(r, seed=8)
    pd.testing.assert_frame_equal(a.test, b.test)
    assert not a.test.equals(c.test)
    assert a.sizes() == {"train": 80_668, "validation": 10_084, "test": 10_084}
    all_pairs = pairs(a.train) | pairs(a.validation) | pairs(a.test)
    assert len(all_pairs) == len(r)
    assert pairs(a.train).isdisjoint(pairs(a.test))


def test_global_split_of_bundled_data_has_no_time_leak(bundled):
    split = global_temporal_split(bundled.ratings)
    assert split.train.timestamp.max() < split.validation.timestamp.min()
    assert split.validation.timestamp.max() < split.test.timestamp.min()
    assert leakage_report(split.train, split.test).older.empty


def test_bad_fractions_are_refused():
    rows = frame([(1, 10, 100)])
    with pytest.raises(ValueError, match="train \\+ validation <= 1; got train=0.9, validation=0.2"):
        chrono_split(rows, train=0.9, validation=0.2)
    with pytest.raises(ValueError, match="n_test and n_validation must be integers >= 0"):
        leave_last_out_split(rows, n_test=-1)


def test_leave_last_out_keeps_one_train_row_for_short_users():
    rows = frame([(1, 10, 1), (1, 20, 2), (2, 30, 3)])
    split = leave_last_out_split(rows, n_test=1, n_validation=1)
    assert pairs(split.train) == {(1, 10), (2, 30)}
    assert pairs(split.test) == {(1, 20)} and split.validation.empty


def test_frames_with_missing_columns_or_values_are_refused():
    rows = frame([(1, 10, 100), (1, 20, 200)])
    with pytest.raises(ValueError, match="chrono_split: ratings lack column\\(s\\) timestamp"):
        chrono_split(rows.drop(columns="timestamp"))
    with_nan = rows.astype({"timestamp": float})
    with_nan.loc[1, "timestamp"] = np.nan
    for split in (chrono_split, global_temporal_split, random_split, leave_last_out_split):
        with pytest.raises(ValueError, match="column 'timestamp' has 1 missing value\\(s\\), first at row 1"):
            split(with_nan)
    with pytest.raises(ValueError, match="leakage_report: train is empty"):
        leakage_report(rows.iloc[:0], rows)
    with pytest.raises(ValueError, match="fractions must be numbers"):
        chrono_split(rows, train="0.8")
