import hashlib
import warnings

import numpy as np
import pandas as pd
import pytest

from conftest import BUNDLED
from recnotes.data import IdEncoder, load_movielens

HEADER = "userId,movieId,rating,timestamp\n"


def write(folder, name, text):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def test_bundled_data_counts_and_types(bundled):
    r = bundled.ratings
    assert len(r) == 100_836
    assert r.userId.nunique() == 610
    assert len(bundled.movies) == 9_742
    assert len(bundled.tags) == 3_683
    assert bundled.duplicates_dropped == 0
    assert [str(t) for t in r.dtypes] == ["int64", "int64", "float32", "int64"]
    assert r.rating.min() == 0.5 and r.rating.max() == 5.0
    assert "ratings=100,836" in repr(bundled) and "users=610" in repr(bundled)


def test_bundled_files_match_their_checksums():
    for line in (BUNDLED / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256((BUNDLED / name).read_bytes()).hexdigest() == digest, name


def test_quoted_title_with_comma_keeps_three_columns(tmp_path):
    folder = write(tmp_path, "ratings.csv", HEADER + "1,11,4.0,100\n")
    write(folder, "movies.csv", 'movieId,title,genres\n11,"American President, The (1995)",Comedy|Drama|Romance\n')
    movies = load_movielens(folder).movies
    assert list(movies.columns) == ["movieId", "title", "genres"]
    assert movies.title.iloc[0] == "American President, The (1995)"
    assert movies.genres.iloc[0] == "Comedy|Drama|Romance"
    assert movies.movieId.iloc[0] == 11


def test_duplicates_keep_latest_and_are_reported(tmp_path):
    text = HEADER + "1,10,4.0,100\n1,10,2.0,150\n1,20,3.0,120\n2,10,5.0,110\n2,30,1.0,130\n2,30,1.0,130\n"
    folder = write(tmp_path, "ratings.csv", text)
    with pytest.warns(UserWarning, match="dropped 2 duplicate"):
        ml = load_movielens(folder)
    assert len(ml.ratings) == 4
    assert ml.duplicates_dropped == 2
    kept = ml.ratings[(ml.ratings.userId == 1) & (ml.ratings.movieId == 10)]
    assert kept.rating.tolist() == [2.0] and kept.timestamp.tolist() == [150]


def test_sparse_large_ids_of_another_release_load(tmp_path):
    text = HEADER + "900001,193609,3.5,1537799250\n42,5,0.5,789652009\n"
    ml = load_movielens(write(tmp_path, "ratings.csv", text))
    assert ml.ratings.userId.tolist() == [900001, 42]
    assert ml.movies is None and ml.tags is None


def test_loading_does_not_change_the_files(tmp_path):
    folder = write(tmp_path, "ratings.csv", HEADER + "1,10,4.0,100\n1,10,2.0,150\n")
    before = (folder / "ratings.csv").read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_movielens(folder)
    assert (folder / "ratings.csv").read_bytes() == before


@pytest.mark.parametrize(
    "body, expected",
    [
        ("1,10,4.0,100\nabc,20,3.0,200\n", r"ratings.csv, column 'userId', data row 2 \(file line 3\): expected an integer \(64-bit, digits only\), got 'abc'"),
        ("1,10,4.0,100\n1,2.5,3.0,200\n", r"column 'movieId', data row 2 \(file line 3\): expected an integer \(64-bit, digits only\), got '2.5'"),
        ("1,10,,100\n", r"column 'rating', data row 1 \(file line 2\): expected a number between 0.5 and 5.0, got ''"),
        ("1,10,4.0,100\n1,20,3.0,200\n1,30,7,300\n", r"column 'rating', data row 3 \(file line 4\): expected a number between 0.5 and 5.0, got '7'"),
        ("1,10,0,100\n", r"column 'rating', data row 1 .*got '0'"),
        ("1,10,NaN,100\n", r"column 'rating', data row 1 .*got 'NaN'"),
        ("1,10,good,100\n", r"column 'rating', data row 1 .*got 'good'"),
        ("1,10,4.0,1.5e9\n", r"column 'timestamp', data row 1 \(file line 2\): expected an integer \(64-bit, digits only\), got '1.5e9'"),
        ("1,10,4.0,100\n1,11,4.0,\n", r"column 'timestamp', data row 2 .*got ''"),
    ],
)
def test_bad_values_name_file_column_row_and_expectation(tmp_path, body, expected):
    folder = write(tmp_path, "ratings.csv", HEADER + body)
    with pytest.raises(ValueError, match=expected):
        load_movielens(folder)


def test_bad_value_counts_all_bad_rows(tmp_path):
    folder = write(tmp_path, "ratings.csv", HEADER + "1,10,9,100\n1,11,8,100\n1,12,4,100\n")
    with pytest.raises(ValueError, match=r"data row 1 .*\(2 bad row\(s\) in this column\)"):
        load_movielens(folder)


def test_missing_folder_and_missing_file(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        load_movielens(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"ratings.csv: file not found; expected a CSV with columns userId, movieId, rating, timestamp"):
        load_movielens(tmp_path / "empty")


def test_missing_column(tmp_path):
    folder = write(tmp_path, "ratings.csv", "userId,movieId,timestamp\n1,10,100\n")
    with pytest.raises(ValueError, match=r"ratings.csv: missing column\(s\) 'rating'; expected columns userId, movieId, rating, timestamp, found userId, movieId, timestamp"):
        load_movielens(folder)


def test_empty_file_and_header_only(tmp_path):
    folder = write(tmp_path / "a", "ratings.csv", "")
    with pytest.raises(ValueError, match="ratings.csv: the file is empty"):
        load_movielens(folder)
    folder = write(tmp_path / "b", "ratings.csv", HEADER)
    with pytest.raises(ValueError, match="ratings.csv: the file has a header but no data rows"):
        load_movielens(folder)


def test_optional_files_are_validated_too(tmp_path):
    folder = write(tmp_path, "ratings.csv", HEADER + "1,10,4.0,100\n")
    write(folder, "movies.csv", "movieId,title,genres\n10,A,Drama\nx,B,Drama\n")
    with pytest.raises(ValueError, match=r"movies.csv, column 'movieId', data row 2 \(file line 3\)"):
        load_movielens(folder)
    write(folder, "movies.csv", "movieId,title,genres\n10,A,Drama\n")
    write(folder, "tags.csv", "userId,movieId,tag,timestamp\n1,10,fun,soon\n")
    with pytest.raises(ValueError, match=r"tags.csv, column 'timestamp', data row 1 .*expected an integer \(64-bit, digits only\), got 'soon'"):
        load_movielens(folder)


# --- IdEncoder ---------------------------------------------------------------


def test_id_encoder_maps_sorted_ids_to_contiguous_indices_and_back():
    enc = IdEncoder("movieId").fit([50, 10, 30, 10])
    assert len(enc) == 3
    np.testing.assert_array_equal(enc.transform([30, 10, 50]), [1, 0, 2])
    np.testing.assert_array_equal(enc.inverse_transform([2, 0]), [50, 10])
    assert repr(enc) == "IdEncoder(name='movieId', size=3, unknown='error')"


def test_id_encoder_unknown_ids_raise_or_map_to_oov():
    enc = IdEncoder("movieId").fit([10, 30])
    with pytest.raises(ValueError, match=r"movieId: 2 value\(s\) not in the vocabulary of 2 known ids \(unknown: 20, 99\)"):
        enc.transform([10, 20, 99])
    oov = IdEncoder("movieId", unknown="oov").fit([10, 30])
    np.testing.assert_array_equal(oov.transform([10, 20, 30, 99, 5]), [0, 2, 1, 2, 2])
    assert oov.oov_index == 2 and oov.num_indices == 3
    with pytest.raises(ValueError, match=r"indices must be in \[0, 2\)"):
        oov.inverse_transform([2])


def test_id_encoder_round_trip_on_bundled_movies(bundled):
    ids = bundled.ratings.movieId.to_numpy()
    enc = IdEncoder("movieId").fit(ids)
    idx = enc.transform(ids)
    assert idx.min() == 0 and idx.max() == len(enc) - 1 == 9_723
    np.testing.assert_array_equal(enc.inverse_transform(idx), ids)
    assert np.all(np.diff(enc.vocabulary) > 0)  # index order is ascending movieId


def test_id_encoder_unfitted_and_bad_mode():
    with pytest.raises(ValueError, match="not fitted"):
        IdEncoder("userId").transform([1])
    with pytest.raises(ValueError, match="unknown must be 'error' or 'oov'"):
        IdEncoder(unknown="drop")


@pytest.mark.parametrize(
    "body, expected",
    [
        # 2**63 would wrap to a negative id
        ("1,9223372036854775808,4,100\n", r"column 'movieId', data row 1 \(file line 2\): expected an integer \(64-bit, digits only\), got '9223372036854775808'"),
        ("1,99999999999999999999,4,100\n", r"column 'movieId', data row 1 .*got '99999999999999999999'"),
        ("\u0661,10,4,100\n", r"column 'userId', data row 1 .*got '\u0661'"),  # an Arabic-Indic digit
        # blank lines are skipped but counted in file line numbers
        ("1,10,4,100\n\n\n1,20,4,100\n1,30,9,100\n", r"column 'rating', data row 3 \(file line 6\)"),
    ],
)
def test_more_bad_values(tmp_path, body, expected):
    with pytest.raises(ValueError, match=expected):
        load_movielens(write(tmp_path, "ratings.csv", HEADER + body))


def test_rows_longer_than_the_header_are_refused(tmp_path):
    # a leading index column (pandas would silently use it as the index) or a trailing comma
    for body in ("0,1,10,4.0,100\n1,1,20,3.5,200\n", "1,10,4.0,100,\n1,20,3.5,200,\n"):
        folder = write(tmp_path, "ratings.csv", HEADER + body)
        with pytest.raises(ValueError, match=r"ratings.csv: data rows have more fields than the header \(4 columns"):
            load_movielens(folder)
    folder = write(tmp_path, "ratings.csv", HEADER + "1,10,4.0,100\n1,20,3.5,200,7,8\n")
    with pytest.raises(ValueError, match=r"ratings.csv: not a CSV with one field per column: .*line 3"):
        load_movielens(folder)


def test_non_utf8_and_folder_in_place_of_file(tmp_path):
    folder = tmp_path / "latin"
    folder.mkdir()
    (folder / "ratings.csv").write_bytes(HEADER.encode() + b"1,10,4.0,100\n")
    (folder / "movies.csv").write_bytes("movieId,title,genres\n1,Misérables,Drama\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"movies.csv: not UTF-8 text .*MovieLens files are UTF-8 CSV"):
        load_movielens(folder)
    (tmp_path / "dir" / "ratings.csv").mkdir(parents=True)
    with pytest.raises(ValueError, match=r"ratings.csv: is a folder; expected a CSV file"):
        load_movielens(tmp_path / "dir")


def test_id_encoder_refuses_non_integer_and_empty_ids():
    with pytest.raises(ValueError, match="movieId: ids must be integers, got non-integral values"):
        IdEncoder("movieId").fit([1.5, 2.7])
    with pytest.raises(ValueError, match="ids must be integers, got an array of dtype <U1"):
        IdEncoder("movieId").fit(["a"])
    with pytest.raises(ValueError, match="fit: no ids given"):
        IdEncoder("movieId").fit([])
    enc = IdEncoder("movieId").fit([1.0, 2.0])  # integral floats are fine
    np.testing.assert_array_equal(enc.transform(np.array([2.0])), [1])
    with pytest.raises(ValueError, match="indices must be integers"):
        enc.inverse_transform([1.9])
    with pytest.raises(ValueError, match=r"ids must fit in int64"):
        IdEncoder().fit(np.array([2**63], dtype=np.uint64))


def test_non_utf8_byte_is_reported_at_its_file_offset_and_line(tmp_path):
    # The bad byte lies far past the parser's first buffer: its offset is the file's, not the buffer's.
    body = "".join(f"{u},{10 + u},4.0,{100 + u}\n" for u in range(1, 4001))
    data = (HEADER + body).encode()
    offset = len(data)
    data += b"4001,7,4.0,1\xff\n"
    offset += len(b"4001,7,4.0,1")
    line = 4002  # the header, 4000 rows, then the bad row
    write(tmp_path, "ratings.csv", "")
    (tmp_path / "ratings.csv").write_bytes(data)
    with pytest.raises(ValueError, match=rf"ratings.csv: not UTF-8 text \(first invalid byte at byte offset {offset} "
                                         rf"\(file line {line}\): invalid start byte\)"):
        load_movielens(tmp_path)


def test_row_errors_name_the_path_with_its_folder(tmp_path):
    for name in ("one", "two"):
        write(tmp_path / name, "ratings.csv", HEADER + "1,10,4.0,100\n")
    write(tmp_path / "two", "ratings.csv", HEADER + "1,10,7,100\n")
    with pytest.raises(ValueError, match=r"^" + str(tmp_path / "two" / "ratings.csv").replace("\\", r"\\")
                                         + r", column 'rating', data row 1"):
        load_movielens(tmp_path / "two")


@pytest.mark.parametrize("field, column", [("-3,10,4.0,100", "userId"), ("+4,10,4.0,100", "userId"),
                                           ("1,-10,4.0,100", "movieId"), ("1,10,4.0,-5", "timestamp")])
def test_signed_ids_and_timestamps_are_refused_as_not_digits_only(tmp_path, field, column):
    folder = write(tmp_path, "ratings.csv", HEADER + "1,11,4.0,100\n" + field + "\n")
    value = field.split(",")[["userId", "movieId", "rating", "timestamp"].index(column)]
    with pytest.raises(ValueError, match=rf"column '{column}', data row 2 \(file line 3\): expected an integer "
                                         rf"\(64-bit, digits only\), got '\{value}'"):
        load_movielens(folder)


def test_first_invalid_utf8_byte_across_chunk_boundaries(tmp_path):
    from recnotes.data import _first_invalid_utf8

    path = tmp_path / "x.csv"
    path.write_bytes("é\nü,€\n".encode() + b"a\n\xe2\x82")  # the last character is cut off
    for chunk_size in (1, 2, 3, 1 << 24):  # characters split over chunks are carried over, not reported
        assert _first_invalid_utf8(path, chunk_size) == (12, 4, "unexpected end of data")
    path.write_bytes("é€".encode() + b"\n\x80")
    assert _first_invalid_utf8(path, 2) == (6, 2, "invalid start byte")
    path.write_bytes("é€\n".encode())
    assert _first_invalid_utf8(path, 1) is None
