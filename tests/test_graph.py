import numpy as np
import pandas as pd
import pytest

from recnotes.evaluation import FullRankingEvaluator
from recnotes.graph import (
    BipartiteGraph,
    neighborhood_batch,
    neighborhood_dataset,
    sample_hops,
    sample_neighbors,
)
from recnotes.splits import chrono_split


def toy():
    # user 0: items {0, 1, 2}; user 1: {0}; user 2: {2, 3}; user 3: no edge; item 4: no edge.
    # Edge (0, 1) is listed twice and becomes one edge.
    return BipartiteGraph([0, 0, 0, 1, 2, 2, 0], [0, 1, 2, 0, 2, 3, 1], num_users=4, num_items=5)


def test_csr_both_directions_and_degree_stats_by_hand():
    g = toy()
    assert g.num_edges == 6
    np.testing.assert_array_equal(g.neighbors("user", 0), [0, 1, 2])
    np.testing.assert_array_equal(g.neighbors("item", 2), [0, 2])
    np.testing.assert_array_equal(g.degrees("user"), [3, 1, 2, 0])
    np.testing.assert_array_equal(g.degrees("item"), [2, 1, 2, 1, 0])
    stats = g.degree_stats()
    assert stats.loc["user"].to_dict() == {"nodes": 4, "isolated": 1, "min": 0, "median": 1.5, "mean": 1.5, "max": 3}
    assert stats.loc["item"].to_dict() == {"nodes": 5, "isolated": 1, "min": 0, "median": 1.0, "mean": 1.2, "max": 2}
    np.testing.assert_array_equal(g.has_edges([0, 0, 3, 2, 1], [2, 3, 0, 3, 0]), [True, False, False, True, True])


def test_bug_report_with_replacement_fills_the_fanout_from_a_single_neighbor():
    # User 1's only neighbor is item 0: fanout 4 with replacement -> [0, 0, 0, 0], all real.
    neighbors, mask = sample_neighbors(toy(), "user", np.array([1]), 4, rng=0, replace=True)
    np.testing.assert_array_equal(neighbors, [[0, 0, 0, 0]])
    np.testing.assert_array_equal(mask, [[True, True, True, True]])


def test_bug_report_node_without_neighbors_gets_an_all_masked_sample():
    for replace in (True, False):
        neighbors, mask = sample_neighbors(toy(), "user", np.array([3]), 3, rng=0, replace=replace)
        np.testing.assert_array_equal(mask, [[False, False, False]])
        np.testing.assert_array_equal(neighbors, [[0, 0, 0]])


def test_without_replacement_distinct_neighbors_and_all_of_them_when_degree_is_small():
    g = toy()
    neighbors, mask = sample_neighbors(g, "user", np.array([0, 0, 2, 1]), 2, rng=3, replace=False)
    for row, m, node in zip(neighbors, mask, [0, 0, 2, 1]):
        real = row[m]
        assert len(set(real)) == len(real) == min(2, g.degrees("user")[node])
        assert set(real) <= set(g.neighbors("user", node))
    # degree <= fanout: every neighbor, in order, the rest masked
    neighbors, mask = sample_neighbors(g, "user", np.array([0]), 5, rng=0, replace=False)
    np.testing.assert_array_equal(neighbors, [[0, 1, 2, 0, 0]])
    np.testing.assert_array_equal(mask, [[True, True, True, False, False]])


@pytest.mark.parametrize("replace", [True, False])
def test_sampling_is_uniform_over_neighbors(replace):
    # One user with 5 items; 20,000 draws of fanout 2. Each item is expected in a
    # slot with probability 1/5 (with replacement: 2/5 slots' worth per node).
    g = BipartiteGraph(np.zeros(5, dtype=int), np.arange(5), num_users=1, num_items=5)
    neighbors, mask = sample_neighbors(g, "user", np.zeros(20_000, dtype=int), 2, rng=11, replace=replace)
    assert mask.all()
    share = np.bincount(neighbors.ravel(), minlength=5) / neighbors.size
    np.testing.assert_allclose(share, np.full(5, 0.2), atol=0.01)
    if not replace:
        assert (neighbors[:, 0] != neighbors[:, 1]).all()
        pairs = np.bincount(np.sort(neighbors, axis=1) @ [5, 1], minlength=25)
        nonzero = pairs[pairs > 0]
        assert len(nonzero) == 10  # the 10 distinct pairs, each ~ 1/10
        np.testing.assert_allclose(nonzero / 20_000, 0.1, atol=0.01)


def test_same_seed_same_samples_other_seed_other_samples():
    g = toy()
    nodes = np.array([0, 2, 0, 2, 0])
    a = sample_neighbors(g, "user", nodes, 6, rng=5)
    b = sample_neighbors(g, "user", nodes, 6, rng=5)
    c = sample_neighbors(g, "user", nodes, 6, rng=6)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_sample_hops_alternate_types_real_edges_and_masked_parents():
    g = toy()
    hops = sample_hops(g, "user", np.array([0, 3, 1]), [3, 2], rng=0)
    assert [h.node_type for h in hops] == ["item", "user"]
    assert hops[0].neighbors.shape == (3, 3) and hops[1].neighbors.shape == (3, 3, 2)
    np.testing.assert_array_equal(hops[0].mask[1], [False] * 3)  # user 3 is isolated
    assert not hops[1].mask[1].any()  # ... so are its hop-2 slots
    # every real hop-1 slot is an edge of its target, every real hop-2 slot an edge of its parent
    users = np.repeat([0, 3, 1], 3).reshape(3, 3)
    assert g.has_edges(users[hops[0].mask], hops[0].neighbors[hops[0].mask]).all()
    parents = np.repeat(hops[0].neighbors[..., None], 2, axis=-1)
    m = hops[1].mask
    assert g.has_edges(hops[1].neighbors[m], parents[m]).all()


def test_exclude_masks_the_target_edge_out_of_hop_one():
    g = toy()
    hops = sample_hops(g, "user", np.array([1]), [4], rng=0, exclude=np.array([0]))
    assert not hops[0].mask.any()  # user 1's only neighbor is the excluded item 0
    batch = neighborhood_batch(g, [0, 2], [1, 3], [6, 2], rng=0, exclude_target_edges=True)
    assert not ((batch["user_hop1"] == np.array([[1], [3]])) & batch["user_mask1"]).any()
    assert not ((batch["item_hop1"] == np.array([[0], [2]])) & batch["item_mask1"]).any()
    assert batch["user_mask1"][0].sum() > 0  # items 0 and 2 remain for user 0


def test_neighborhood_batch_tables_cover_every_node_with_real_edges():
    g = toy()
    batch = neighborhood_batch(g, [0, 2], [1, 3], [3, 2, 2], rng=0)
    assert batch["user_hop1"].shape == (2, 3) and batch["item_hop1"].shape == (2, 3)
    for k in (2, 3):
        assert batch[f"user_table{k}"].shape == (4, 2) and batch[f"item_table{k}"].shape == (5, 2)
        m = batch[f"user_tmask{k}"]
        users = np.repeat(np.arange(4)[:, None], 2, axis=1)
        assert g.has_edges(users[m], batch[f"user_table{k}"][m]).all()
        np.testing.assert_array_equal(m.sum(axis=1), [2, 2, 2, 0])  # with replacement; user 3 isolated


def test_graph_from_split_holds_train_edges_only(bundled):
    # No leakage: validation and test interactions never become edges of the graph.
    split = chrono_split(bundled.ratings)
    ev = FullRankingEvaluator.from_split(split)
    graph = BipartiteGraph.from_split(split, ev.user_encoder, ev.item_encoder)
    train_pairs = split.train[["userId", "movieId"]].drop_duplicates()
    assert graph.num_edges == len(train_pairs) == 80_419
    assert graph.has_edges(ev.user_encoder.transform(split.train.userId), ev.item_encoder.transform(split.train.movieId)).all()
    for frame in (split.validation, split.test):
        known = frame[frame.movieId.isin(ev.item_ids)]
        assert len(known) > 9_000
        u, i = ev.user_encoder.transform(known.userId), ev.item_encoder.transform(known.movieId)
        assert not graph.has_edges(u, i).any()
    # and the graph built from train + validation would have them: the check can fail
    both = pd.concat([split.train, split.validation[split.validation.movieId.isin(ev.item_ids)]])
    leaky = BipartiteGraph.from_frame(both, ev.user_encoder, ev.item_encoder)
    assert leaky.num_edges > graph.num_edges


def test_neighborhood_dataset_repeats_with_its_seed_and_resamples_each_epoch():
    g = toy()
    users, items = np.array([0, 0, 0, 1, 2, 2]), np.array([0, 1, 2, 0, 2, 3])

    def epochs(seed):
        ds = neighborhood_dataset(g, users, items, [3, 2], batch_size=3, seed=seed)
        return [[{k: v.numpy() for k, v in b.items()} for b in ds] for _ in range(2)]

    a, b = epochs(1), epochs(1)
    for ea, eb in zip(a, b):
        for ba, bb in zip(ea, eb):
            assert ba.keys() == bb.keys()
            for key in ba:
                np.testing.assert_array_equal(ba[key], bb[key])
    first, second = a
    assert a[0][0]["user_table2"].shape == (4, 2)
    assert any(not np.array_equal(x["user_table2"], y["user_table2"]) for x, y in zip(first, second))


def test_bad_input_names_what_was_received_and_expected():
    g = toy()
    with pytest.raises(ValueError, match=r"user nodes must be integer indices in \[0, 4\), got dtype int64, values \[7\]"):
        sample_neighbors(g, "user", np.array([7]), 2)
    with pytest.raises(ValueError, match="fanout must be a positive integer, got 0"):
        sample_neighbors(g, "user", np.array([0]), 0)
    with pytest.raises(ValueError, match="node_type must be 'user' or 'item', got 'movie'"):
        sample_neighbors(g, "movie", np.array([0]), 2)
    with pytest.raises(ValueError, match=r"items must be integer indices in \[0, 2\).*range \[0, 5\]"):
        BipartiteGraph([0, 1], [0, 5], num_users=2, num_items=2)
