import numpy as np
import pandas as pd
import pytest

from recnotes.data import load_movielens
from recnotes.features import (
    CategoricalFeature,
    FeatureTable,
    MultiValuedFeature,
    feature_from_config,
    genre_multi_hot,
    item_feature_table,
    parse_year,
    split_genres,
    tag_lists,
    user_feature_table,
)


def _movielens_folder(tmp_path, movie_lines):
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,100\n")
    (folder / "movies.csv").write_text("movieId,title,genres\n" + "".join(line + "\n" for line in movie_lines))
    return folder


def test_movies_csv_case_from_the_bug_report(tmp_path):
    folder = _movielens_folder(tmp_path, [
        "1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy",
        '11,"American President, The (1995)",Comedy|Drama|Romance',
        "1000,Sample Film (2015),(no genres listed)",
    ])
    movies = load_movielens(folder).movies
    multi_hot, vocabulary = genre_multi_hot(movies)
    assert vocabulary == ("Adventure", "Animation", "Children", "Comedy", "Drama", "Fantasy", "Romance")
    assert multi_hot.dtype == np.float32
    np.testing.assert_array_equal(multi_hot, np.array([
        [1, 1, 1, 1, 0, 1, 0],
        [0, 0, 0, 1, 1, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
    ], dtype=np.float32))
    assert list(parse_year(movies.title)) == [1995, 1995, 2015]


def test_empty_genres_field_in_movies_csv_gives_the_zero_row(tmp_path):
    folder = _movielens_folder(tmp_path, ["1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy",
                                          "1001,Empty Film (2016),"])
    movies = load_movielens(folder).movies
    spec = MultiValuedFeature("genres", ("Adventure", "Animation", "Children", "Comedy", "Drama", "Fantasy", "Romance"))
    rows = spec.multi_hot(split_genres(movies.genres), oov_column=True)
    np.testing.assert_array_equal(rows[1], np.zeros(8, np.float32))  # no genre bit, no OOV bit
    np.testing.assert_array_equal(rows[0], [1, 1, 1, 1, 0, 1, 0, 0])


def test_empty_genres_field_gives_the_zero_row_without_oov_bit():
    spec = MultiValuedFeature("genres", ("Adventure", "Animation", "Children", "Comedy", "Drama", "Fantasy", "Romance"))
    movies = pd.DataFrame({"genres": ["", np.nan, "(no genres listed)", "Comedy|Western"]})
    lists = split_genres(movies.genres)
    assert lists == [[], [], [], ["Comedy", "Western"]]
    rows = spec.multi_hot(lists, oov_column=True)
    np.testing.assert_array_equal(rows[:3], np.zeros((3, 8), np.float32))
    np.testing.assert_array_equal(rows[3], [0, 0, 0, 1, 0, 0, 0, 1])  # Western is unknown: the OOV bit


def test_encode_reserves_padding_zero_and_sends_unknown_values_to_oov():
    spec = MultiValuedFeature("tags", ("a", "b", "c"), embedding_dim=4, combiner="sum")
    assert (spec.padding_index, spec.oov_index, spec.num_embeddings) == (0, 4, 5)
    ids, weights = spec.encode([["c", "a"], [], ["zzz", "b", "b"]])
    np.testing.assert_array_equal(ids, [[3, 1, 0], [0, 0, 0], [4, 2, 2]])
    np.testing.assert_array_equal(weights, [[1, 1, 0], [0, 0, 0], [1, 1, 1]])
    ids, _ = spec.encode([[]])
    assert ids.shape == (1, 1) and ids[0, 0] == 0
    with pytest.raises(ValueError, match="row 0 has 2 values, more than max_length=1"):
        spec.encode([["a", "b"]], max_length=1)


def test_categorical_feature_oov_and_config_round_trip():
    spec = CategoricalFeature("year", 3, 8, labels=("1990s", "2000s", "2010s"))
    assert spec.num_embeddings == 4 and spec.oov_index == 3
    np.testing.assert_array_equal(spec.encode(["2000s", "1890s", "2010s"]), [1, 3, 2])
    assert feature_from_config(spec.get_config()) == spec
    multi = MultiValuedFeature("genres", ("x", "y"), 8, "sqrtn")
    assert feature_from_config(multi.get_config()) == multi


@pytest.mark.parametrize("bad, message", [
    (dict(combiner="max"), "combiner must be one of sum, mean, sqrtn, got 'max'"),
    (dict(embedding_dim=0), "embedding_dim must be a positive integer, got 0"),
    (dict(vocabulary=("a", "a")), "duplicate"),
])
def test_multi_valued_feature_rejects_bad_specs(bad, message):
    with pytest.raises(ValueError, match=message):
        MultiValuedFeature(**{"name": "f", "vocabulary": ("a",), **bad})


def test_feature_table_checks_shapes_and_ranges():
    spec = CategoricalFeature("c", 2)
    with pytest.raises(ValueError, match=r"expected ids of shape \[num_rows\] with num_rows=3, got \(2,\)"):
        FeatureTable([spec], 3, {"c": np.array([0, 1])})
    with pytest.raises(ValueError, match=r"ids must be in \[0, 2\], got range \[0, 5\]"):
        FeatureTable([spec], 2, {"c": np.array([0, 5])})


def test_parse_year_without_a_year_is_minus_one():
    assert list(parse_year(["Heat (1995)", "Cosmos", "Babylon 5 (1994) ", None])) == [1995, -1, 1994, -1]


def test_tag_lists_use_train_pairs_only_and_normalize_case():
    tags = pd.DataFrame({"userId": [1, 1, 2, 3], "movieId": [10, 10, 10, 20],
                         "tag": ["Funny ", "dark", "funny", "space"], "timestamp": [0, 0, 0, 0]})
    train = pd.DataFrame({"userId": [1, 2], "movieId": [10, 10]})
    assert tag_lists(tags, [10, 20, 30], train) == [["dark", "funny"], [], []]
    assert tag_lists(tags, [20]) == [["space"]]
    with pytest.raises(ValueError, match="tags lack column"):
        tag_lists(tags.drop(columns="tag"), [10])


def _tiny():
    movies = pd.DataFrame({"movieId": [5, 7, 9], "title": ["A (1991)", "B (1997)", "C"],
                           "genres": ["Drama|Comedy", "Comedy", "(no genres listed)"]})
    train = pd.DataFrame({"userId": [1, 1, 2, 2, 2], "movieId": [5, 7, 5, 7, 9]})
    return movies, train


def test_item_and_user_tables_by_hand():
    movies, train = _tiny()
    items = item_feature_table(movies, [5, 7, 9], train, embedding_dim=4, year_width=5, popularity_buckets=3)
    assert [f.name for f in items.features] == ["item_id", "genres", "year", "popularity"]
    genres = items.feature("genres")
    assert genres.vocabulary == ("Comedy", "Drama")
    np.testing.assert_array_equal(items.arrays["genres"], [[2, 1], [1, 0], [0, 0]])
    assert items.feature("year").labels == ("1990-1994", "1995-1999")
    np.testing.assert_array_equal(items.arrays["year"], [0, 1, 2])  # no year: OOV index 2
    np.testing.assert_array_equal(items.arrays["popularity"], [1, 1, 0])  # floor(log2 count): 2, 2, 1
    users = user_feature_table(train, [1, 2, 3], [5, 7, 9], items, embedding_dim=4)
    # profile = mean of genre multi-hots (Comedy, Drama) of the user's train items
    np.testing.assert_allclose(users.arrays["genre_profile/weights"], [[1.0, 0.5], [2 / 3, 1 / 3], [0.0, 0.0]])
    np.testing.assert_array_equal(users.arrays["genre_profile"], [[1, 2]] * 3)


def test_item_table_names_missing_movies():
    movies, train = _tiny()
    with pytest.raises(ValueError, match=r"1 movieId\(s\) have no row in movies.csv, e.g. \[42\]"):
        item_feature_table(movies, [5, 42], train)
