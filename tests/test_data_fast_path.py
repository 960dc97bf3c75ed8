"""recnotes.data's fast path for numeric files: the same frames and the same errors as the text path."""

import warnings

import numpy as np
import pandas as pd
import pytest

import recnotes.data as data
from conftest import BUNDLED
from recnotes.data import load_movielens

HEADER = "userId,movieId,rating,timestamp\n"


def outcome(folder):
    """("ok", ratings, duplicates dropped) or ("error", message) of load_movielens."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ml = load_movielens(folder)
    except ValueError as exc:
        return ("error", str(exc))
    return ("ok", ml.ratings, ml.duplicates_dropped)


def both_paths(folder, monkeypatch):
    """The outcome with the fast path, whether it was taken, and the outcome of the text path alone."""
    taken = []
    real = data._read_plain_numeric

    def spy(path, schema):
        frame = real(path, schema)
        taken.append(frame is not None)
        return frame

    with monkeypatch.context() as m:
        m.setattr(data, "_read_plain_numeric", spy)
        fast = outcome(folder)
    with monkeypatch.context() as m:
        m.setattr(data, "_read_plain_numeric", lambda path, schema: None)
        text = outcome(folder)
    return fast, any(taken), text


def assert_same(fast, text):
    assert fast[0] == text[0], (fast, text)
    if fast[0] == "error":
        assert fast[1] == text[1]
    else:
        pd.testing.assert_frame_equal(fast[1], text[1])
        assert fast[2] == text[2]


def test_bundled_ratings_take_the_fast_path_with_identical_frames(monkeypatch):
    fast, taken, text = both_paths(BUNDLED, monkeypatch)
    assert taken and fast[0] == "ok" and len(fast[1]) == 100_836
    assert_same(fast, text)


@pytest.mark.parametrize(
    "body, fast_path_taken",
    [
        ("1,10,4.0,100\n2,5,0.5,7\n", True),
        ("1,10,4,100\n1,11,.5,100\n1,12,5.,100\n1,13,05.0,100\n", True),  # other spellings of ratings
        ("007,10,4.0,0100\n", True),  # leading zeros
        ("9223372036854775807,10,4.0,100\n", True),  # the largest int64
        ("1,10,4.0,100\r\n2,5,0.5,7\r\n", True),  # CRLF
        ("1,10,4.0,100\n\n2,5,0.5,7\n\n", True),  # blank lines
        ("1,10,4.0,100\n1,10,2.0,150\n", True),  # a duplicate pair, kept latest
        ("2,30,1.0,130\n1,10,4.0,100\n2,10,5.0,110\n1,10,3.0,90\n", True),  # unsorted, with a duplicate
        ("2,30,1.0,130\n1,10,4.0,100\n2,10,5.0,110\n", True),  # unsorted, no duplicate
        ("1,5.0,4.0,100\n", False),  # '.0' in an id: refused by both
        ("1,10,4.0,1e3\n", False),  # exponents
        ("1,10,4.0,15e8\n", False),
        ("+1,10,4.0,100\n", False),  # signs: the text path decides
        ("-9223372036854775808,10,4.0,100\n", False),
        ("9223372036854775808,10,4.0,100\n", False),  # 2**63
        (" 1,10,4.0,100\n", False),  # spaces
        ('"1",10,4.0,100\n', False),  # quotes
        ("1,10,,100\n", False),  # an empty rating
        ("1,10,4.0,\n", False),  # an empty timestamp
        (",,,\n1,10,4.0,100\n", False),  # a row of empty fields (blank for the text path)
        ("1,10,9,100\n1,11,8,100\n", False),  # ratings out of range
        ("1,10,4..0,100\n", False),
        ("1,10,4.0\n", False),  # a short row
        ("0,1,10,4.0,100\n1,1,20,3.5,200\n", False),  # a leading index column
        ("1,10,4.0,100,\n1,20,3.5,200,\n", False),  # a trailing comma
        ("1,10,4.0,100,5\n1,20,3.5\n", False),  # one long and one short row: the commas add up
        ("1,10,4.0,100\n1,20,3.5,200,7,8\n", False),
        ("", False),  # header only
    ],
)
def test_fast_and_text_path_agree(tmp_path, monkeypatch, body, fast_path_taken):
    (tmp_path / "ratings.csv").write_text(HEADER + body, encoding="utf-8", newline="")
    fast, taken, text = both_paths(tmp_path, monkeypatch)
    assert taken == fast_path_taken
    assert_same(fast, text)


def test_other_headers_take_the_text_path(tmp_path, monkeypatch):
    (tmp_path / "ratings.csv").write_text("movieId,userId,rating,timestamp\n10,1,4.0,100\n", encoding="utf-8")
    fast, taken, text = both_paths(tmp_path, monkeypatch)
    assert not taken and fast[0] == "ok" and fast[1].userId.tolist() == [1]
    assert_same(fast, text)


def test_unsorted_duplicates_are_still_found(tmp_path):
    (tmp_path / "ratings.csv").write_text(HEADER + "2,30,1.0,130\n1,10,4.0,100\n2,30,5.0,90\n", encoding="utf-8")
    with pytest.warns(UserWarning, match="dropped 1 duplicate"):
        ml = load_movielens(tmp_path)
    assert ml.ratings.values.tolist() == [[2, 30, 1.0, 130], [1, 10, 4.0, 100]]


def test_sorted_check_handles_extreme_ids_without_overflow():
    big = np.iinfo(np.int64)
    frame = pd.DataFrame({"userId": [big.min, big.max], "movieId": [big.max, big.min]})
    assert not data._has_duplicate_pairs(frame)
    assert data._has_duplicate_pairs(pd.concat([frame, frame.iloc[:1]], ignore_index=True))
