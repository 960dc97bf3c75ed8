import numpy as np
import pandas as pd
import pytest

from recnotes.pipeline import input_throughput
from recnotes.preprocessing import VARIANTS, FeatureTables, feature_dataset

RATINGS = pd.DataFrame({"userId": [7, 3, 7, 9, 3], "movieId": [50, 10, 30, 10, 50], "rating": 4.0, "timestamp": 1})
MOVIES = pd.DataFrame({"movieId": [10, 30, 50, 99], "title": ["a", "b", "c", "d"],
                       "genres": ["Comedy|Drama", "(no genres listed)", "Drama", "Action"]})


def test_tables_by_hand():
    tables = FeatureTables.from_frames(RATINGS, MOVIES)
    assert tables.user_ids.tolist() == [3, 7, 9] and tables.item_ids.tolist() == [10, 30, 50]
    assert tables.genres == ["Comedy", "Drama"]  # only genres of rated movies; "(no genres listed)" is none
    np.testing.assert_array_equal(tables.item_genres, [[1, 1], [0, 0], [0, 1]])
    assert repr(tables) == "FeatureTables(users=3, items=3, genres=2)"


def collect(ds):
    batches = list(ds)
    return {k: np.concatenate([b[k].numpy() for b in batches]) for k in batches[0]}, [len(b["user"]) for b in batches]


@pytest.mark.parametrize("variant", VARIANTS)
def test_every_variant_yields_the_same_batches(variant):
    tables = FeatureTables.from_frames(RATINGS, MOVIES)
    users = [7, 3, 7, 9, 3, 8]  # 8 and movie 77 are unknown: index -1, genres all zero
    items = [50, 10, 30, 10, 50, 77]
    got, sizes = collect(feature_dataset(users, items, tables, batch_size=4, variant=variant))
    assert sizes == [4, 2]
    assert got["user"].tolist() == [1, 0, 1, 2, 0, -1]
    assert got["item"].tolist() == [2, 0, 1, 0, 2, -1]
    np.testing.assert_array_equal(got["item_genres"], [[0, 1], [1, 1], [0, 0], [1, 1], [0, 1], [0, 0]])


def test_unknown_variant_and_throughput():
    tables = FeatureTables.from_frames(RATINGS, MOVIES)
    with pytest.raises(ValueError, match="variant must be one of python_generator, map"):
        feature_dataset([7], [50], tables, 1, variant="fast")
    rate = input_throughput(feature_dataset(RATINGS.userId, RATINGS.movieId, tables, 2, "vectorized"))
    assert rate > 0
