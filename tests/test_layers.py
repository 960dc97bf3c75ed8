import keras
import numpy as np
import pytest

from recnotes.features import CategoricalFeature, FeatureTable, MultiValuedFeature
from recnotes.layers.fields import FieldEmbedding
from recnotes.layers.fm import FactorizationMachine
from recnotes.layers.pooling import PooledEmbedding
from recnotes.layers.senet import SENet


def _pooled(combiner, table):
    layer = PooledEmbedding(table.shape[0], table.shape[1], combiner)
    layer.embeddings.assign(table.astype(np.float32))
    return layer


@pytest.mark.parametrize("combiner", ["sum", "mean", "sqrtn"])
def test_pooled_embedding_equals_multi_hot_times_table(combiner):
    rng = np.random.default_rng(0)
    spec = MultiValuedFeature("genres", tuple("abcdef"), embedding_dim=3, combiner=combiner)
    lists = [["a", "c", "f"], ["b"], [], ["f", "e", "d", "c", "a"], ["zz"]]
    ids, weights = spec.encode(lists)
    table = rng.normal(size=(spec.num_embeddings, 3))
    table[0] = 1e6  # padding must never contribute, whatever its row holds
    pooled = np.asarray(_pooled(combiner, table)(ids, weights), dtype=np.float64)
    # independent reference: [multi-hot | OOV count] @ table rows 1..V+1, float64
    multi_hot = spec.multi_hot(lists, oov_column=True).astype(np.float64)
    expected = multi_hot @ table[1:]
    count = multi_hot.sum(axis=1, keepdims=True)
    if combiner == "mean":
        expected = expected / np.maximum(count, 1)
    if combiner == "sqrtn":
        expected = expected / np.sqrt(np.maximum(count, 1))
    np.testing.assert_allclose(pooled, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(pooled[2], np.zeros(3))  # the empty list: zeros, not NaN
    np.testing.assert_allclose(pooled[4], table[spec.oov_index], rtol=1e-6)  # unknown value -> OOV row


def test_pooled_embedding_by_hand_with_weights():
    table = np.array([[9.0, 9.0], [1.0, 0.0], [0.0, 2.0], [5.0, 5.0]])
    ids = np.array([[1, 2, 0]])
    weights = np.array([[0.5, 0.25, 7.0]])  # the padding weight is ignored
    # sum = 0.5*[1,0] + 0.25*[0,2] = [0.5, 0.5]; mean divides by 0.75; sqrtn by sqrt(0.3125)
    assert _pooled("sum", table)(ids, weights).numpy().tolist() == [[0.5, 0.5]]
    np.testing.assert_allclose(_pooled("mean", table)(ids, weights), [[0.5 / 0.75, 0.5 / 0.75]], rtol=1e-6)
    np.testing.assert_allclose(_pooled("sqrtn", table)(ids, weights), [[0.5 / 0.3125 ** 0.5] * 2], rtol=1e-6)


def test_pooled_embedding_shape_errors_name_the_shapes():
    layer = PooledEmbedding(5, 2)
    with pytest.raises(ValueError, match=r"expects ids of shape \[B, L\], got \(3,\)"):
        layer(np.array([1, 2, 3]))
    with pytest.raises(ValueError, match=r"weights of the ids' shape \(1, 2\), got \(1, 3\)"):
        layer(np.array([[1, 2]]), np.ones((1, 3)))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fm_identity_equals_naive_pairwise_sum_in_float64(seed):
    rng = np.random.default_rng(seed)
    fields = rng.normal(size=(4, 6, 5))
    naive = np.array([sum(fields[b, i] @ fields[b, j] for i in range(6) for j in range(i + 1, 6)) for b in range(4)])
    fast = np.asarray(FactorizationMachine()(fields.astype(np.float32)), dtype=np.float64)
    np.testing.assert_allclose(fast, naive, rtol=1e-4, atol=1e-4)
    per_dim = np.asarray(FactorizationMachine(reduce_sum=False)(fields.astype(np.float32)))
    assert per_dim.shape == (4, 5)
    np.testing.assert_allclose(per_dim.sum(axis=1), naive, rtol=1e-4, atol=1e-4)


def test_fm_by_hand_and_single_field():
    fields = np.array([[[1.0, 2.0], [3.0, 0.0], [0.0, -1.0]]], dtype=np.float32)
    # pairs: <1,2>=3, <1,3>=-2, <2,3>=0 -> 1
    assert float(FactorizationMachine()(fields)[0]) == pytest.approx(1.0)
    assert float(FactorizationMachine()(fields[:, :1])[0]) == 0.0
    with pytest.raises(ValueError, match=r"expects fields of shape \[B, n, k\], got \(3, 2\)"):
        FactorizationMachine()(fields[0])


def _senet_numpy(fields, w1, b1, w2, b2):
    z = fields.mean(axis=2)
    a = 1.0 / (1.0 + np.exp(-(np.maximum(z @ w1 + b1, 0.0) @ w2 + b2)))
    return fields * a[:, :, None], a


@pytest.mark.parametrize("seed", [0, 1])
def test_senet_matches_numpy_with_the_same_weights(seed):
    rng = np.random.default_rng(seed)
    fields = rng.normal(size=(3, 4, 5))
    layer = SENet(reduction_ratio=2, seed=seed)
    layer.build(fields.shape)
    w1, b1 = rng.normal(size=(4, 2)), rng.normal(size=2)
    w2, b2 = rng.normal(size=(2, 4)), rng.normal(size=4)
    layer.squeeze_dense.set_weights([w1, b1])
    layer.excite_dense.set_weights([w2, b2])
    out, weights = layer(fields.astype(np.float32))
    expected_out, expected_weights = _senet_numpy(fields, w1, b1, w2, b2)
    np.testing.assert_allclose(np.asarray(weights, np.float64), expected_weights, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.asarray(out, np.float64), expected_out, rtol=1e-5, atol=1e-5)
    assert np.all((np.asarray(weights) > 0) & (np.asarray(weights) < 1))


def test_senet_bottleneck_and_shape_errors():
    layer = SENet(reduction_ratio=3)
    layer.build((None, 7, 4))
    assert layer.bottleneck == 2  # 7 // 3
    with pytest.raises(ValueError, match=r"built for fields of shape \[B, 7, k\], got \(2, 5, 4\)"):
        layer(np.zeros((2, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"expects fields of shape \[B, n, k\] with a known n, got \(2, 4\)"):
        SENet()(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="reduction_ratio must be >= 1"):
        SENet(0.5)


def _table():
    genres = MultiValuedFeature("genres", ("x", "y", "z"), embedding_dim=4, combiner="mean")
    ids, weights = genres.encode([["x", "y"], [], ["z"]])
    return FeatureTable([CategoricalFeature("item_id", 3, 4), genres], 3,
                        {"item_id": np.arange(3, dtype=np.int32), "genres": ids, "genres/weights": weights})


def test_field_embedding_looks_up_rows_and_embeds_each_feature():
    layer = FieldEmbedding(_table(), seed=0)
    out = np.asarray(layer(np.array([2, 0])))
    assert out.shape == (2, 2, 4)
    id_table = np.asarray(layer.embeddings[0].embeddings)
    genre_table = np.asarray(layer.embeddings[1].embeddings)
    np.testing.assert_allclose(out[:, 0], id_table[[2, 0]])
    np.testing.assert_allclose(out[0, 1], genre_table[3], rtol=1e-6)  # item 2: genre z (index 3)
    np.testing.assert_allclose(out[1, 1], (genre_table[1] + genre_table[2]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(layer(np.array([1])))[0, 1], np.zeros(4))  # no genres


def test_field_embedding_needs_one_dim_or_an_override():
    table = _table()
    mixed = FeatureTable([CategoricalFeature("item_id", 3, 4), CategoricalFeature("year", 2, 8)], 3,
                         {"item_id": np.arange(3), "year": np.array([0, 1, 2])})
    with pytest.raises(ValueError, match=r"one embedding_dim for all fields.*\('item_id', 4\), \('year', 8\)"):
        FieldEmbedding(mixed)
    assert FieldEmbedding(mixed, embedding_dim=1)(np.array([0])).shape == (1, 2, 1)
    with pytest.raises(ValueError, match=r"row indices of shape \[B\], got \(1, 1\)"):
        FieldEmbedding(table)(np.array([[0]]))


def _round_trip(model, inputs, tmp_path):
    path = tmp_path / "layer.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    expected, got = keras.tree.flatten(model(inputs)), keras.tree.flatten(loaded(inputs))
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(e))
    return loaded


def test_save_load_round_trips(tmp_path):
    ids_in, w_in = keras.Input((3,), dtype="int32"), keras.Input((3,))
    pooled = keras.Model([ids_in, w_in], PooledEmbedding(5, 2, "sqrtn")(ids_in, w_in))
    loaded = _round_trip(pooled, [np.array([[1, 4, 0]]), np.array([[1.0, 2.0, 0.0]])], tmp_path)
    assert loaded.layers[-1].get_config()["combiner"] == "sqrtn"

    fields_in = keras.Input((4, 3))
    fm = keras.Model(fields_in, FactorizationMachine()(fields_in))
    _round_trip(fm, np.random.default_rng(0).normal(size=(2, 4, 3)).astype(np.float32), tmp_path)

    senet = keras.Model(fields_in, SENet(reduction_ratio=2, seed=1)(fields_in))
    loaded = _round_trip(senet, np.random.default_rng(1).normal(size=(2, 4, 3)).astype(np.float32), tmp_path)
    assert loaded.layers[-1].get_config()["reduction_ratio"] == 2.0

    rows_in = keras.Input((), dtype="int32")
    fields = keras.Model(rows_in, FieldEmbedding(_table(), seed=2)(rows_in))
    _round_trip(fields, np.array([0, 1, 2], np.int32), tmp_path)  # the lookup arrays come back with the weights
