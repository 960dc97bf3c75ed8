"""The user–item graph of a training log, and seeded k-hop neighbor sampling.

A log of (user, item) interactions is a bipartite graph: users on one side,
items on the other, one undirected edge per distinct interaction.
:class:`BipartiteGraph` stores it twice in CSR form (user -> items and
item -> users), so the neighbors of a batch of nodes are slices of one array.

GraphSAGE (Hamilton et al., NeurIPS 2017) computes a node's representation
from a *sample* of its neighborhood: ``fanouts = [10, 5]`` takes 10 neighbors
of each target node (hop 1) and 5 neighbors of each of those (hop 2).
:func:`sample_neighbors` and :func:`sample_hops` draw these samples for a
whole batch at once (numpy, no per-node Python loop), uniformly, with or
without replacement, from a seeded ``numpy.random.Generator``:

* with replacement, every slot is an independent uniform draw from the
  node's neighbors, so the fanout is filled even when the degree is smaller
  (a node whose only neighbor is 0 gets ``[0, 0, 0, 0]`` for fanout 4);
* without replacement, a node with degree ``d > fanout`` gets ``fanout``
  distinct neighbors (Floyd's algorithm, vectorized over nodes) and a node
  with ``d <= fanout`` gets all ``d`` of them, the other slots masked;
* a node with no neighbors gets an all-masked row.

Masked slots hold index 0 and ``mask = False``; aggregators must ignore them
(see :mod:`recnotes.models.graphsage`).

Because the bipartite graph alternates types, hop 1 of a user holds items,
hop 2 users, and so on; every sample carries indices of its own type.

:func:`sample_hops` draws the full sample tree of a batch (``n * f1 * f2``
slots; used to inspect and draw neighborhoods).  Training uses
:func:`neighborhood_batch`, which samples hop 1 for the batch's targets and
every deeper hop once for every node of the graph (layer-wise sampling), and
:func:`neighborhood_dataset`, the seeded ``tf.data`` pipeline around it.

**Leakage.** Build the graph from the train rows only
(:meth:`BipartiteGraph.from_split`): validation and test interactions must
never become edges, or the model would see the answers through its
neighborhoods.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

__all__ = [
    "USER",
    "ITEM",
    "BipartiteGraph",
    "Hop",
    "sample_neighbors",
    "sample_hops",
    "neighborhood_batch",
    "neighborhood_keys",
    "neighborhood_dataset",
]

USER = "user"
ITEM = "item"
_OTHER = {USER: ITEM, ITEM: USER}


def _check_type(node_type: str) -> str:
    if node_type not in (USER, ITEM):
        raise ValueError(f"node_type must be 'user' or 'item', got {node_type!r}")
    return node_type


def _csr(rows: np.ndarray, cols: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``(indptr [n_rows + 1], indices [nnz])`` with each row's columns ascending."""
    order = np.lexsort((cols, rows))
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_rows), out=indptr[1:])
    return indptr, cols[order].astype(np.int32)


@dataclasses.dataclass(frozen=True)
class Hop:
    """One hop of a sample: neighbor indices and which slots are real.

    ``neighbors`` and ``mask`` have shape ``[n, f1, ..., fk]`` for hop ``k``
    of ``n`` target nodes; the indices are of the type ``node_type``.
    """

    neighbors: np.ndarray
    mask: np.ndarray
    node_type: str


class BipartiteGraph:
    """An undirected user–item graph in CSR form (both directions).

    Args:
      users, items: ``[E]`` int arrays of encoded indices, one per
        interaction; duplicates are merged into one edge.
      num_users, num_items: node counts (nodes without edges are allowed).

    Attributes:
      user_indptr, user_indices: CSR of user -> items.
      item_indptr, item_indices: CSR of item -> users.
    """

    def __init__(self, users, items, num_users: int, num_items: int):
        for name, value in (("num_users", num_users), ("num_items", num_items)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        self.num_users, self.num_items = int(num_users), int(num_items)
        users, items = np.asarray(users), np.asarray(items)
        if users.shape != items.shape or users.ndim != 1:
            raise ValueError(f"users and items must be 1-D of equal length, got shapes {users.shape} and {items.shape}")
        for name, array, size in (("users", users, self.num_users), ("items", items, self.num_items)):
            if array.size and (array.dtype.kind not in "iu" or array.min() < 0 or array.max() >= size):
                raise ValueError(
                    f"{name} must be integer indices in [0, {size}) (from recnotes.data.IdEncoder), "
                    f"got dtype {array.dtype}, range [{array.min()}, {array.max()}]"
                )
        edges = np.unique(np.stack([users.astype(np.int64), items.astype(np.int64)], axis=1), axis=0)
        u, i = edges[:, 0], edges[:, 1]
        self.user_indptr, self.user_indices = _csr(u, i, self.num_users)
        self.item_indptr, self.item_indices = _csr(i, u, self.num_items)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, user_encoder, item_encoder) -> "BipartiteGraph":
        """The graph of ``frame``'s (userId, movieId) rows, indexed by the encoders."""
        return cls(
            user_encoder.transform(frame.userId.to_numpy()),
            item_encoder.transform(frame.movieId.to_numpy()),
            num_users=len(user_encoder),
            num_items=len(item_encoder),
        )

    @classmethod
    def from_split(cls, split, user_encoder, item_encoder) -> "BipartiteGraph":
        """The graph of ``split.train`` only: validation and test rows never become edges."""
        return cls.from_frame(split.train, user_encoder, item_encoder)

    @property
    def num_edges(self) -> int:
        return int(len(self.user_indices))

    def csr(self, node_type: str) -> tuple[np.ndarray, np.ndarray]:
        """``(indptr, indices)`` of the neighbors of ``node_type`` nodes."""
        if _check_type(node_type) == USER:
            return self.user_indptr, self.user_indices
        return self.item_indptr, self.item_indices

    def num_nodes(self, node_type: str) -> int:
        return self.num_users if _check_type(node_type) == USER else self.num_items

    def degrees(self, node_type: str) -> np.ndarray:
        """``[num_nodes]`` number of neighbors of every node of the type."""
        return np.diff(self.csr(node_type)[0])

    def neighbors(self, node_type: str, node: int) -> np.ndarray:
        """All neighbors of one node, ascending (for inspection, not for training)."""
        indptr, indices = self.csr(node_type)
        node = int(node)
        if not 0 <= node < self.num_nodes(node_type):
            raise ValueError(f"{node_type} index must be in [0, {self.num_nodes(node_type)}), got {node}")
        return indices[indptr[node] : indptr[node + 1]]

    def has_edges(self, users, items) -> np.ndarray:
        """``[n]`` bool: is (users[j], items[j]) an edge of the graph?"""
        users, items = np.asarray(users, dtype=np.int64), np.asarray(items, dtype=np.int64)
        # Edges sorted by (user, item) have ascending keys user * num_items + item: binary search.
        row_of = np.repeat(np.arange(self.num_users, dtype=np.int64), np.diff(self.user_indptr))
        edge_keys = row_of * self.num_items + self.user_indices
        key = users * self.num_items + items
        pos = np.minimum(np.searchsorted(edge_keys, key), max(len(edge_keys) - 1, 0))
        return (edge_keys[pos] == key) if len(edge_keys) else np.zeros(key.shape, dtype=bool)

    def degree_stats(self) -> pd.DataFrame:
        """Degree statistics per node type: nodes, isolated, min, median, mean, max."""
        rows = {}
        for node_type in (USER, ITEM):
            d = self.degrees(node_type)
            rows[node_type] = {
                "nodes": len(d),
                "isolated": int((d == 0).sum()),
                "min": int(d.min()),
                "median": float(np.median(d)),
                "mean": float(d.mean()),
                "max": int(d.max()),
            }
        return pd.DataFrame.from_dict(rows, orient="index")

    def __repr__(self) -> str:
        return f"BipartiteGraph(users={self.num_users:,}, items={self.num_items:,}, edges={self.num_edges:,})"


def _as_generator(rng) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def sample_neighbors(
    graph: BipartiteGraph,
    node_type: str,
    nodes,
    fanout: int,
    rng=None,
    replace: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Uniformly sample ``fanout`` neighbors of each node, vectorized over nodes.

    Args:
      graph: the graph.
      node_type: ``"user"`` or ``"item"``, the type of ``nodes``.
      nodes: int array of any shape ``S`` of node indices.
      fanout: slots per node.
      rng: a ``numpy.random.Generator`` or a seed.
      replace: draw with replacement (slots are independent uniform draws;
        the fanout is always filled for a node with at least one neighbor)
        or without (distinct neighbors; all of them when the degree is at
        most the fanout, the remaining slots masked).

    Returns:
      ``(neighbors, mask)`` of shape ``S + [fanout]``: indices of the other
      type and whether each slot is a real neighbor.  Masked slots hold 0;
      a node without neighbors gets an all-masked row.
    """
    _check_type(node_type)
    if int(fanout) != fanout or fanout < 1:
        raise ValueError(f"fanout must be a positive integer, got {fanout!r}")
    fanout = int(fanout)
    rng = _as_generator(rng)
    nodes = np.asarray(nodes)
    n_nodes = graph.num_nodes(node_type)
    if nodes.size and (nodes.dtype.kind not in "iu" or nodes.min() < 0 or nodes.max() >= n_nodes):
        raise ValueError(
            f"{node_type} nodes must be integer indices in [0, {n_nodes}), "
            f"got dtype {nodes.dtype}, values {nodes.ravel()[:5]}"
        )
    indptr, indices = graph.csr(node_type)
    flat = nodes.reshape(-1).astype(np.int64)
    start = indptr[flat][:, None]
    degree = (indptr[flat + 1] - indptr[flat])[:, None]
    slots = np.arange(fanout)[None, :]
    if replace:
        offset = np.floor(rng.random((len(flat), fanout)) * degree).astype(np.int64)
        mask = np.broadcast_to(degree > 0, offset.shape).copy()
    else:
        # Floyd's algorithm, one slot at a time for all nodes: a uniform
        # `fanout`-subset of range(degree) for nodes with degree > fanout.
        offset = np.zeros((len(flat), fanout), dtype=np.int64)
        d = degree[:, 0]
        for t in range(fanout):
            j = d - fanout + t  # the candidate added at this step
            r = np.floor(rng.random(len(flat)) * np.maximum(j + 1, 1)).astype(np.int64)
            taken = (offset[:, :t] == r[:, None]).any(axis=1)
            offset[:, t] = np.where(taken, j, r)
        small = degree[:, 0] <= fanout  # all neighbors, in order
        offset[small] = np.broadcast_to(slots, (int(small.sum()), fanout))
        mask = slots < degree
    if len(indices):
        neighbors = np.where(mask, indices[np.where(mask, start + offset, 0)], 0)
    else:  # a graph without edges: every slot is masked
        neighbors = np.zeros(mask.shape, dtype=np.int32)
    shape = nodes.shape + (fanout,)
    return neighbors.astype(np.int32).reshape(shape), mask.reshape(shape)


def sample_hops(
    graph: BipartiteGraph,
    node_type: str,
    nodes,
    fanouts,
    rng=None,
    replace: bool = True,
    exclude=None,
) -> list[Hop]:
    """K-hop neighborhoods of ``nodes`` with per-hop fanouts.

    Hop ``k`` samples ``fanouts[k-1]`` neighbors of every node of hop
    ``k-1``; a slot whose parent is masked is masked too.

    Args:
      graph, node_type, rng, replace: as in :func:`sample_neighbors`.
      nodes: ``[n]`` indices of type ``node_type`` (the targets).
      fanouts: e.g. ``[10, 5]``; ``[]`` gives no hops (K = 0).
      exclude: optional ``[n]`` indices of the other type; hop-1 slots equal
        to a target's ``exclude`` are masked.  In link-prediction training
        this removes the edge being predicted from its own endpoints'
        neighborhoods, as it will be absent for held-out edges.

    Returns:
      A list of ``len(fanouts)`` :class:`Hop`; hop ``k`` has shape
      ``[n, fanouts[0], ..., fanouts[k-1]]``.
    """
    _check_type(node_type)
    rng = _as_generator(rng)
    nodes = np.asarray(nodes)
    if nodes.ndim != 1:
        raise ValueError(f"nodes must be a 1-D array of target indices, got shape {nodes.shape}")
    hops: list[Hop] = []
    frontier, frontier_mask, frontier_type = nodes, np.ones(nodes.shape, dtype=bool), node_type
    for k, fanout in enumerate(fanouts):
        neighbors, mask = sample_neighbors(graph, frontier_type, frontier, fanout, rng, replace)
        mask &= frontier_mask[..., None]
        if k == 0 and exclude is not None:
            exclude = np.asarray(exclude)
            if exclude.shape != nodes.shape:
                raise ValueError(f"exclude must have the targets' shape {nodes.shape}, got {exclude.shape}")
            mask &= neighbors != exclude[:, None]
        neighbors = np.where(mask, neighbors, 0).astype(np.int32)
        frontier_type = _OTHER[frontier_type]
        hops.append(Hop(neighbors, mask, frontier_type))
        frontier, frontier_mask = neighbors, mask
    return hops


def neighborhood_batch(
    graph: BipartiteGraph,
    users,
    items,
    fanouts,
    rng=None,
    replace: bool = True,
    exclude_target_edges: bool = True,
) -> dict[str, np.ndarray]:
    """The sampled inputs of a GraphSAGE recommender for a batch of (user, item) edges.

    Layer-wise sampling (the "blocks" of DGL): rather than a tree of
    ``B * f1 * f2`` slots per side, where the same few hundred users recur
    thousands of times, hop 1 is sampled for the batch's targets and every
    deeper hop once for *every* node of the graph, so each node's inner-hop
    vector is computed once per batch and shared by all targets that reach
    it.  On a graph of a few thousand nodes this is several times cheaper
    than the tree; a node's sample is still uniform with the hop's fanout.

    Returns a dict with

    * ``"user"``, ``"item"``: ``[B]`` the edges' endpoints;
    * ``"user_hop1"`` / ``"user_mask1"``: ``[B, f1]`` items sampled for each
      target user, and ``"item_hop1"`` / ``"item_mask1"`` users for each
      target item (with ``exclude_target_edges``, the edge (user, item)
      itself is masked out of both);
    * for ``k = 2..K``: ``"user_table{k}"`` / ``"user_tmask{k}"``
      ``[num_users, f_k]`` and ``"item_table{k}"`` / ``"item_tmask{k}"``
      ``[num_items, f_k]``, a fresh sample of neighbors for every node.
    """
    rng = _as_generator(rng)
    users = np.asarray(users).astype(np.int32)
    items = np.asarray(items).astype(np.int32)
    fanouts = [int(f) for f in fanouts]
    batch = {USER: users, ITEM: items}
    if not fanouts:
        return batch
    for side, nodes, partner in ((USER, users, items), (ITEM, items, users)):
        neighbors, mask = sample_neighbors(graph, side, nodes, fanouts[0], rng, replace)
        if exclude_target_edges:
            mask &= neighbors != partner[:, None]
        batch[f"{side}_hop1"] = np.where(mask, neighbors, 0).astype(np.int32)
        batch[f"{side}_mask1"] = mask
    for k, fanout in enumerate(fanouts[1:], start=2):
        for side in (USER, ITEM):
            everyone = np.arange(graph.num_nodes(side), dtype=np.int32)
            batch[f"{side}_table{k}"], batch[f"{side}_tmask{k}"] = sample_neighbors(
                graph, side, everyone, fanout, rng, replace
            )
    return batch


def neighborhood_keys(num_hops: int) -> list[tuple[str, str]]:
    """``(key, kind)`` of the sampled entries of :func:`neighborhood_batch` for ``K`` hops."""
    keys = []
    for side in (USER, ITEM):
        if num_hops >= 1:
            keys += [(f"{side}_hop1", "hop"), (f"{side}_mask1", "mask")]
        for k in range(2, num_hops + 1):
            keys += [(f"{side}_table{k}", "table"), (f"{side}_tmask{k}", "tmask")]
    return keys


def neighborhood_dataset(
    graph: BipartiteGraph,
    users,
    items,
    fanouts,
    batch_size: int,
    seed: int = 0,
    replace: bool = True,
    exclude_target_edges: bool = True,
    item_probability=None,
    shuffle: bool = True,
):
    """A ``tf.data`` pipeline of (user, item) edge batches with their sampled neighborhoods.

    The edges are shuffled every epoch (:func:`recnotes.pipeline.interaction_dataset`);
    each batch's neighborhoods are drawn by :func:`neighborhood_batch` (one
    vectorized numpy call per batch, run by ``tf.numpy_function`` in a
    parallel ``map`` so sampling overlaps training).  The sampling seed of a
    batch comes from ``tf.data.Dataset.random(seed)``, drawn anew every
    epoch, and the map keeps batch order, so the same ``seed`` gives the same
    batches and the same samples in every run.

    Returns:
      A dataset of dicts as :func:`neighborhood_batch` (plus
      ``"item_probability"`` when given).
    """
    import tensorflow as tf

    from recnotes.pipeline import interaction_dataset

    fanouts = [int(f) for f in fanouts]
    edges = interaction_dataset(users, items, batch_size=batch_size, shuffle=shuffle, seed=seed,
                                item_probability=item_probability)
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    keys = neighborhood_keys(len(fanouts))
    shapes = {}
    for key, kind in keys:
        side, k = key.split("_")[0], int(key[len(key.rstrip("0123456789")):])
        rows = None if kind in ("hop", "mask") else graph.num_nodes(side)
        shapes[key] = [rows, fanouts[k - 1]]

    def sample(u, i, s):
        out = neighborhood_batch(graph, u, i, fanouts, np.random.default_rng(int(s) % 2**63), replace,
                                 exclude_target_edges)
        return [out[key] for key, _ in keys]

    def add_neighborhoods(batch, s):
        tout = [tf.bool if "mask" in kind else tf.int32 for _, kind in keys]
        values = tf.numpy_function(sample, [batch["user"], batch["item"], s], tout, stateful=False)
        out = dict(batch)
        for (key, _), value in zip(keys, values):
            out[key] = tf.ensure_shape(value, shapes[key])
        return out

    return tf.data.Dataset.zip(edges, seeds).map(
        add_neighborhoods, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    ).prefetch(tf.data.AUTOTUNE)
