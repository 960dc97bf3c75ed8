import keras
import numpy as np
import pytest

from conftest import frame
from recnotes.evaluation import FullRankingEvaluator
from recnotes.graph import BipartiteGraph, neighborhood_batch, neighborhood_dataset
from recnotes.losses import InBatchSoftmax
from recnotes.models.graphsage import (
    GraphSAGELayer,
    GraphSAGERecommender,
    fit_graphsage,
    l2_normalize,
    max_pool_aggregate,
    mean_aggregate,
)
from recnotes.splits import Split
from recnotes.training import set_seed

FEATURES = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=np.float32)
# Nodes 0, 1, 2; one undirected edge 0-1; node 2 isolated. One neighbor slot per node.
NEIGHBORS = np.array([[1], [0], [0]])
MASK = np.array([[True], [True], [False]])


def test_bug_report_mean_aggregation_and_empty_neighborhood():
    agg = keras.ops.convert_to_numpy(mean_aggregate(FEATURES[NEIGHBORS], MASK))
    np.testing.assert_array_equal(agg, [[3, 4], [1, 2], [0, 0]])  # node 2: zeros, not NaN
    out = keras.ops.convert_to_numpy(l2_normalize(np.concatenate([FEATURES, agg], axis=1)))
    np.testing.assert_allclose(out[2], [0.640184, 0.768221, 0, 0], atol=1e-6)  # [5, 6] / sqrt(61)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(l2_normalize(np.zeros((2, 4), np.float32))), 0.0)


def test_bug_report_through_the_layer_with_identity_weights():
    layer = GraphSAGELayer(4, activation="linear", use_bias=False)
    layer.build((None, 2))
    layer.set_weights([np.eye(4, dtype=np.float32)])
    out = keras.ops.convert_to_numpy(layer(FEATURES, FEATURES[NEIGHBORS], MASK))
    by_hand = np.array([[1, 2, 3, 4], [3, 4, 1, 2], [5, 6, 0, 0]], dtype=np.float64)
    np.testing.assert_allclose(out, by_hand / np.linalg.norm(by_hand, axis=1, keepdims=True), rtol=1e-6)
    np.testing.assert_allclose(out[2], [0.640184, 0.768221, 0, 0], atol=1e-6)


def test_bug_report_single_neighbor_sampled_four_times_averages_to_its_features():
    g = BipartiteGraph([1], [0], num_users=2, num_items=1)  # user 1's only neighbor is item 0
    batch = neighborhood_batch(g, [1, 0], [0, 0], [4], rng=0, exclude_target_edges=False)
    np.testing.assert_array_equal(batch["user_hop1"][0], [0, 0, 0, 0])
    item_features = np.array([[0.25, -1.5]], dtype=np.float32)
    agg = keras.ops.convert_to_numpy(mean_aggregate(item_features[batch["user_hop1"]], batch["user_mask1"]))
    np.testing.assert_array_equal(agg[0], item_features[0])  # exactly
    np.testing.assert_array_equal(agg[1], [0, 0])  # user 0 has no neighbor: all masked
    for aggregator in ("mean", "maxpool"):
        layer = GraphSAGELayer(3, aggregator=aggregator, seed=0)
        out = keras.ops.convert_to_numpy(layer(np.ones((2, 2), np.float32), item_features[batch["user_hop1"]], batch["user_mask1"]))
        assert np.isfinite(out).all()


def reference_layer(h_self, h_neighbors, mask, weights, aggregator, relu=True):
    """GraphSAGE hop in numpy float64: normalize(sigma(W [h_v || AGG]) + b)."""
    h_self, h_neighbors = h_self.astype(np.float64), h_neighbors.astype(np.float64)
    m = mask.astype(np.float64)[..., None]
    if aggregator == "mean":
        kernel, bias = weights
        agg = (h_neighbors * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1)
    else:
        pool_kernel, pool_bias, kernel, bias = weights
        pooled = np.maximum(h_neighbors @ pool_kernel + pool_bias, 0)
        agg = np.where(m > 0, pooled, -np.inf).max(axis=1)
        agg = np.where(mask.any(axis=1)[:, None], agg, 0.0)
    z = np.concatenate([h_self, agg], axis=1) @ kernel.astype(np.float64) + bias
    z = np.maximum(z, 0) if relu else z
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    return z / np.maximum(norm, 1e-12)


@pytest.mark.parametrize("aggregator", ["mean", "maxpool"])
def test_layer_matches_numpy_float64_reference(aggregator):
    rng = np.random.default_rng(0)
    h_self = rng.normal(size=(6, 5)).astype(np.float32)
    h_neighbors = rng.normal(size=(6, 4, 5)).astype(np.float32)
    mask = rng.random((6, 4)) < 0.6
    mask[0] = True
    mask[3] = False  # a node without neighbors
    layer = GraphSAGELayer(7, aggregator=aggregator, pool_units=3, seed=1)
    layer.build((None, 5))
    weights = [w + rng.normal(scale=0.1, size=w.shape).astype(np.float32) for w in layer.get_weights()]  # nonzero biases
    layer.set_weights(weights)
    out = keras.ops.convert_to_numpy(layer(h_self, h_neighbors, mask))
    expected = reference_layer(h_self, h_neighbors, mask, [w.astype(np.float64) for w in weights], aggregator)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)
    assert np.isfinite(out[3]).all()
    np.testing.assert_allclose(np.linalg.norm(out[np.linalg.norm(expected, axis=1) > 0], axis=1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("aggregator", ["mean", "maxpool"])
def test_segment_aggregation_equals_padded_aggregation(aggregator):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(7, 3)).astype(np.float32)
    segment = np.array([0, 0, 0, 2, 2, 3, 3])  # node 1 has no neighbor
    padded = np.zeros((4, 3, 3), np.float32)
    mask = np.zeros((4, 3), bool)
    for node in range(4):
        rows = x[segment == node]
        padded[node, : len(rows)], mask[node, : len(rows)] = rows, True
    layer = GraphSAGELayer(2, aggregator=aggregator, seed=0)
    layer.build((None, 3))
    a = keras.ops.convert_to_numpy(layer.aggregate_segments(x, segment, 4))
    b = keras.ops.convert_to_numpy(layer.aggregate(padded, mask))
    np.testing.assert_allclose(a, b, rtol=1e-6)
    np.testing.assert_array_equal(a[1], 0.0)


def test_max_pool_aggregate_by_hand():
    pooled = np.array([[[1.0, 5.0], [3.0, 2.0], [9.0, 9.0]]], dtype=np.float32)
    out = keras.ops.convert_to_numpy(max_pool_aggregate(pooled, np.array([[True, True, False]])))
    np.testing.assert_array_equal(out, [[3.0, 5.0]])  # the masked [9, 9] is ignored


def toy_graph():
    # 6 users, 8 items, two taste groups: users 0-2 watch items 0-3, users 3-5 items 4-7.
    users = np.repeat(np.arange(6), 3)
    items = np.array([0, 1, 2, 1, 2, 3, 0, 3, 2, 4, 5, 6, 5, 6, 7, 4, 7, 6])
    return BipartiteGraph(users, items, num_users=6, num_items=8), users, items


@pytest.mark.parametrize("aggregator", ["mean", "maxpool"])
def test_full_neighborhood_inference_equals_sampling_every_neighbor(aggregator):
    g, users, items = toy_graph()
    model = GraphSAGERecommender(6, 8, embedding_dim=4, num_layers=2, aggregator=aggregator, seed=0)
    full_users, full_items = model.embed_all(g)
    fanouts = (4, 4)  # >= every degree, without replacement: the sample is the whole neighborhood
    np.testing.assert_allclose(model.embed(g, "user", fanouts=fanouts, replace=False), full_users, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.embed(g, "item", fanouts=fanouts, replace=False), full_items, rtol=1e-5, atol=1e-6)
    # and by hand for one user, hop by hop: h^1 of everyone, then h^2 of user 0
    h0u, h0i = model.embeddings["user"].embeddings.numpy()[:6], model.embeddings["item"].embeddings.numpy()[:8]
    wts = lambda side, k: [w.astype(np.float64) for w in model.sage_layers[side][k].get_weights()]  # noqa: E731
    def hop(h_self, h_other, csr, side, k, relu):
        indptr, indices = csr
        n = len(h_self)
        deg = np.diff(indptr)
        padded = np.zeros((n, deg.max(), h_other.shape[1]))
        mask = np.arange(deg.max())[None, :] < deg[:, None]
        padded[mask] = h_other[indices]
        return reference_layer(h_self, padded, mask, wts(side, k), aggregator, relu)
    h1u = hop(h0u, h0i, g.csr("user"), "user", 0, True)
    h1i = hop(h0i, h0u, g.csr("item"), "item", 0, True)
    h2u = hop(h1u, h1i, g.csr("user"), "user", 1, False)
    np.testing.assert_allclose(full_users, h2u, rtol=1e-4, atol=1e-5)


def test_compute_loss_is_in_batch_softmax_of_the_representations():
    g, users, items = toy_graph()
    model = GraphSAGERecommender(6, 8, embedding_dim=4, num_layers=2, temperature=0.5, seed=1)
    batch = neighborhood_batch(g, users[:5], items[:5], [3, 2], rng=0)
    out = model(batch)
    expected = InBatchSoftmax(temperature=0.5)(out["user"], out["item"])
    assert float(model.compute_loss(x=batch)) == pytest.approx(float(expected), rel=1e-6)
    np.testing.assert_allclose(np.linalg.norm(keras.ops.convert_to_numpy(out["user"]), axis=1), 1.0, rtol=1e-5)


def test_save_and_load_keras_round_trip(tmp_path):
    g, users, items = toy_graph()
    set_seed(0)
    model = GraphSAGERecommender(6, 8, embedding_dim=4, num_layers=2, aggregator="maxpool", temperature=0.2, seed=3)
    model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=False)
    model.fit(neighborhood_dataset(g, users, items, [3, 2], batch_size=6, seed=0), epochs=1, verbose=0)
    path = tmp_path / "graphsage.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is GraphSAGERecommender
    assert loaded.get_config()["aggregator"] == "maxpool" and loaded.get_config()["temperature"] == 0.2
    for a, b in zip(loaded.embed_all(g), model.embed_all(g)):
        np.testing.assert_array_equal(a, b)
    layer = model.sage_layers["user"][0]
    clone = GraphSAGELayer.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()


def test_inductive_a_new_user_is_embedded_from_its_items_only():
    # Train on the toy graph, then add user 6 (no id row in the model) who watched items 4 and 5:
    # it is embedded from the "unseen" row plus its neighbors, and its best unseen items are its
    # group's (6 and 7), not items 0-3.
    g, users, items = toy_graph()
    set_seed(0)
    model = GraphSAGERecommender(6, 8, embedding_dim=8, num_layers=2, temperature=0.2, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(0.05), jit_compile=False)
    data = neighborhood_dataset(g, users, items, [3, 3], batch_size=18, seed=0, exclude_target_edges=False)
    model.fit(data.repeat(), epochs=1, steps_per_epoch=40, verbose=0)
    bigger = BipartiteGraph(np.append(users, [6, 6]), np.append(items, [4, 5]), num_users=7, num_items=8)
    user_vectors, item_vectors = model.embed_all(bigger)
    scores = user_vectors[6] @ item_vectors.T
    unseen = [0, 1, 2, 3, 6, 7]
    ranked = sorted(unseen, key=lambda i: -scores[i])
    assert set(ranked[:2]) == {6, 7}, scores
    # the same user with no neighbors at all is the "unseen" row only: no information, no group
    alone = BipartiteGraph(np.append(users, [6]), np.append(items, [0]), num_users=8, num_items=8)
    assert np.isfinite(model.embed_all(alone)[0][7]).all()


def test_fit_graphsage_repeats_with_its_seed_and_keeps_its_graph_to_train():
    rows = [(u, 10 + (3 * u + j) % 12, 100 * j + u) for u in range(8) for j in range(10)]
    ratings = frame(rows)
    cut = ratings.timestamp < 800
    split = Split(ratings[cut], ratings[~cut & (ratings.timestamp < 900)], ratings[ratings.timestamp >= 900])
    ev = FullRankingEvaluator.from_split(split)

    def run():
        return fit_graphsage(split.train, ev, epochs=1, fanouts=(3, 2), batch_size=16, embedding_dim=4, seed=4, logq=True,
                             jit_compile=False)

    a, b = run(), run()
    np.testing.assert_array_equal(a.model.embed_all(a.graph)[1], b.model.embed_all(b.graph)[1])
    assert a.history.history["loss"] == b.history.history["loss"]
    assert a.graph.num_edges == len(split.train) and len(a.throughput.epoch_seconds) == 1
    table = ev.evaluate(a.model.scorer(a.graph), ks=[5])
    assert 0.0 <= table.loc[5, "Recall"] <= 1.0


def test_bad_input_names_what_was_received_and_expected():
    with pytest.raises(ValueError, match=r"aggregator must be one of \['mean', 'maxpool'\], got 'sum'"):
        GraphSAGELayer(4, aggregator="sum")
    with pytest.raises(ValueError, match="num_layers must be an integer >= 0, got -1"):
        GraphSAGERecommender(3, 3, num_layers=-1)
    with pytest.raises(ValueError, match=r"neighbor features must be \[\.\.\., fanout, d\] and the mask \[\.\.\., fanout\]; "
                                         r"got neighbor features \(2, 3, 4\) and mask \(2, 5\)"):
        mean_aggregate(np.zeros((2, 3, 4)), np.ones((2, 5), bool))
    layer = GraphSAGELayer(4)
    layer.build((None, 3))
    with pytest.raises(ValueError, match=r"self_features must have last axis 3 \(the layer's input size\), got shape \(2, 5\)"):
        layer(np.zeros((2, 5)), np.zeros((2, 1, 3)))
    model = GraphSAGERecommender(3, 3, num_layers=2)
    with pytest.raises(ValueError, match=r"inputs lack \['user_table2'.*for num_layers=2"):
        model({"user": np.array([0]), "item": np.array([0]), "user_hop1": np.zeros((1, 2), int),
               "user_mask1": np.ones((1, 2), bool), "item_hop1": np.zeros((1, 2), int), "item_mask1": np.ones((1, 2), bool)})


def test_hop_mix_measures_the_self_and_neighbor_parts_of_each_hop():
    g, _, _ = toy_graph()
    model = GraphSAGERecommender(6, 8, embedding_dim=4, num_layers=2, seed=0)
    model.build()
    layer = model.sage_layers["user"][1]
    kernel, bias = layer.get_weights()
    kernel[4:] = 0.0  # hop 2 of users ignores its neighbors
    layer.set_weights([kernel, bias])
    mix = model.hop_mix(g).set_index(["hop", "side"])
    assert list(mix.index) == [(1, "user"), (1, "item"), (2, "user"), (2, "item")]
    assert mix.loc[(2, "user"), "self_share"] == 1.0 and mix.loc[(2, "user"), "neighbor_norm"] == 0.0
    # by hand for hop 1 of items: |W_self h_v| with the id rows, mean over the 8 items
    h0 = model.embeddings["item"].embeddings.numpy()[:8].astype(np.float64)
    w = model.sage_layers["item"][0].get_weights()[0].astype(np.float64)
    expected = np.linalg.norm(h0 @ w[:4], axis=1).mean()
    assert mix.loc[(1, "item"), "self_norm"] == pytest.approx(expected, rel=1e-5)
    assert 0.0 < mix.loc[(1, "item"), "self_share"] < 1.0
