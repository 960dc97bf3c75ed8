"""GraphSAGE on the user–item graph: the layer, the recommender and its training helper.

GraphSAGE (Hamilton, Ying and Leskovec, "Inductive Representation Learning
on Large Graphs", NeurIPS 2017) computes a node's representation at hop
``k`` from its own representation at hop ``k-1`` and an aggregate of its
(sampled) neighbors' ones::

    a_v^k = AGG({h_u^{k-1} : u in N(v)})
    h_v^k = sigma(W^k [h_v^{k-1} || a_v^k] + b^k)
    h_v^k = h_v^k / ||h_v^k||_2

The weights are shared by all nodes of a type, so a node that was never
trained on (a new user) is embedded from its neighbors alone: the model is
*inductive*.

* :class:`GraphSAGELayer` — one hop, ``"mean"`` or ``"maxpool"`` aggregator.
* :class:`GraphSAGERecommender` — users and items represented from ``K``
  hops of the bipartite graph (:mod:`recnotes.graph`), trained for link
  prediction with any retrieval loss of :mod:`recnotes.losses` on in-batch
  logits, like :class:`~recnotes.models.TwoTowerModel`.
* :func:`fit_graphsage` — seed, sample, train; the GraphSAGE counterpart of
  :func:`recnotes.training.fit_two_tower`.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import ops

from recnotes.graph import ITEM, USER, BipartiteGraph, neighborhood_batch, neighborhood_keys
from recnotes.losses.retrieval import resolve_retrieval_loss, retrieval_logits
from recnotes.training import Throughput, TrainingRun, set_seed

__all__ = [
    "l2_normalize",
    "mean_aggregate",
    "max_pool_aggregate",
    "GraphSAGELayer",
    "GraphSAGERecommender",
    "GraphSAGERun",
    "fit_graphsage",
]

_AGGREGATORS = ("mean", "maxpool")
_OTHER = {USER: ITEM, ITEM: USER}


def l2_normalize(x, epsilon: float = 1e-12):
    """``x / max(||x||_2, epsilon)`` along the last axis; an all-zero vector stays zero."""
    x = ops.convert_to_tensor(x)
    norm = ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True))
    return x / ops.maximum(norm, epsilon)


def _check_mask(neighbors, mask):
    n_shape, m_shape = tuple(neighbors.shape), tuple(mask.shape)
    if len(n_shape) < 2 or len(m_shape) != len(n_shape) - 1 or any(
        a is not None and b is not None and a != b for a, b in zip(n_shape[:-1], m_shape)
    ):
        raise ValueError(
            "neighbor features must be [..., fanout, d] and the mask [..., fanout]; "
            f"got neighbor features {n_shape} and mask {m_shape}"
        )


def mean_aggregate(neighbors, mask=None):
    """Mean of the unmasked neighbor vectors; zeros for a node without neighbors.

    Args:
      neighbors: ``[..., fanout, d]``.
      mask: ``[..., fanout]`` bool (``None``: all slots real).

    Returns:
      ``[..., d]``: ``sum_j m_j x_j / max(sum_j m_j, 1)``.
    """
    neighbors = ops.convert_to_tensor(neighbors)
    if mask is None:
        return ops.mean(neighbors, axis=-2)
    mask = ops.convert_to_tensor(mask)
    _check_mask(neighbors, mask)
    m = ops.cast(mask, neighbors.dtype)[..., None]
    return ops.sum(neighbors * m, axis=-2) / ops.maximum(ops.sum(m, axis=-2), 1.0)


def max_pool_aggregate(pooled, mask=None):
    """Element-wise max of the unmasked (already transformed) neighbor vectors; zeros if none.

    Args:
      pooled: ``[..., fanout, p]``, i.e. ``sigma(W_pool x_j + b_pool)``.
      mask: ``[..., fanout]`` bool.
    """
    pooled = ops.convert_to_tensor(pooled)
    if mask is None:
        return ops.max(pooled, axis=-2)
    mask = ops.convert_to_tensor(mask)
    _check_mask(pooled, mask)
    lowest = ops.cast(-3.0e38, pooled.dtype) if pooled.dtype == "float32" else ops.cast(-6.0e4, pooled.dtype)
    best = ops.max(ops.where(mask[..., None], pooled, lowest), axis=-2)
    return ops.where(ops.any(mask, axis=-1)[..., None], best, ops.zeros_like(best))


@keras.saving.register_keras_serializable(package="recnotes")
class GraphSAGELayer(keras.layers.Layer):
    """One GraphSAGE hop: a node's own vector concatenated with its neighbors' aggregate.

    ::

        a_v = AGG({h_u : u in N(v)})                 # zeros if N(v) is empty
        h_v' = sigma(W [h_v || a_v] + b)             # W: [d_in + d_agg, units]
        h_v' = h_v' / ||h_v'||_2                      # if normalize; 0 stays 0

    Aggregators (Hamilton et al. 2017, section 3.3):

    * ``"mean"``: ``a_v = mean_u h_u`` (``d_agg = d_in``);
    * ``"maxpool"``: ``a_v = max_u ReLU(W_pool h_u + b_pool)``, element-wise
      (``d_agg = pool_units``).

    Masked neighbor slots (padding, or nodes with fewer neighbors than the
    fanout) are ignored; a node with no neighbor keeps its own vector and a
    zero aggregate.

    Input shapes: ``self_features [..., d_in]``, ``neighbor_features
    [..., fanout, d_in]``, optional ``mask [..., fanout]`` (bool).
    Output shape: ``[..., units]``.

    Args:
      units: output size.
      aggregator: ``"mean"`` or ``"maxpool"``.
      activation: ``sigma`` (default ReLU; ``"linear"`` for none).
      normalize: L2-normalize the output.
      pool_units: ``p`` of the max-pool aggregator (default ``d_in``).
      use_bias: add ``b``.
      seed: seed of the kernel initializers.
    """

    def __init__(
        self,
        units: int,
        aggregator: str = "mean",
        activation="relu",
        normalize: bool = True,
        pool_units: int | None = None,
        use_bias: bool = True,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if int(units) != units or units < 1:
            raise ValueError(f"units must be a positive integer, got {units!r}")
        if aggregator not in _AGGREGATORS:
            raise ValueError(f"aggregator must be one of {list(_AGGREGATORS)}, got {aggregator!r}")
        if pool_units is not None and (int(pool_units) != pool_units or pool_units < 1):
            raise ValueError(f"pool_units must be a positive integer or None, got {pool_units!r}")
        self.units = int(units)
        self.aggregator = aggregator
        self.activation = keras.activations.get(activation)
        self.normalize = bool(normalize)
        self.pool_units = None if pool_units is None else int(pool_units)
        self.use_bias = bool(use_bias)
        self.seed = seed

    def _initializer(self, offset: int):
        return keras.initializers.GlorotUniform(seed=None if self.seed is None else self.seed + offset)

    def build(self, self_features_shape, neighbor_features_shape=None, mask_shape=None):
        d_in = self_features_shape[-1]
        if d_in is None:
            raise ValueError(f"the last axis of self_features must be known, got shape {self_features_shape}")
        self.input_dim = int(d_in)
        d_agg = self.input_dim
        if self.aggregator == "maxpool":
            d_agg = self.pool_units or self.input_dim
            self.pool_kernel = self.add_weight(
                shape=(self.input_dim, d_agg), initializer=self._initializer(1), name="pool_kernel"
            )
            self.pool_bias = self.add_weight(shape=(d_agg,), initializer="zeros", name="pool_bias")
        self.kernel = self.add_weight(
            shape=(self.input_dim + d_agg, self.units), initializer=self._initializer(0), name="kernel"
        )
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias") if self.use_bias else None
        self.built = True

    def _check_dim(self, x, what: str):
        if x.shape[-1] is not None and x.shape[-1] != self.input_dim:
            raise ValueError(f"{what} must have last axis {self.input_dim} (the layer's input size), got shape {tuple(x.shape)}")

    def transform_neighbors(self, neighbor_features):
        """What is aggregated: ``h_u`` (mean) or ``ReLU(W_pool h_u + b_pool)`` (maxpool)."""
        if self.aggregator == "mean":
            return neighbor_features
        return ops.relu(ops.matmul(neighbor_features, self.pool_kernel) + self.pool_bias)

    def aggregate(self, neighbor_features, mask=None):
        """``[..., fanout, d_in]`` neighbor vectors -> ``[..., d_agg]`` aggregate."""
        neighbor_features = ops.convert_to_tensor(neighbor_features)
        self._check_dim(neighbor_features, "neighbor_features")
        x = self.transform_neighbors(neighbor_features)
        return mean_aggregate(x, mask) if self.aggregator == "mean" else max_pool_aggregate(x, mask)

    def aggregate_segments(self, neighbor_features, segment_ids, num_segments: int):
        """Aggregate over *all* neighbors given as a flat edge list.

        Args:
          neighbor_features: ``[E, d_in]``, one row per edge.
          segment_ids: ``[E]`` sorted index of the node each row belongs to.
          num_segments: number of nodes.

        Returns:
          ``[num_segments, d_agg]``; zeros for nodes without an edge.
        """
        x = self.transform_neighbors(ops.convert_to_tensor(neighbor_features))
        count = ops.segment_sum(ops.ones_like(x[:, :1]), segment_ids, num_segments)
        if self.aggregator == "mean":
            return ops.segment_sum(x, segment_ids, num_segments) / ops.maximum(count, 1.0)
        best = ops.segment_max(x, segment_ids, num_segments)
        return ops.where(count > 0, best, ops.zeros_like(best))

    def combine(self, self_features, aggregated):
        """``normalize(sigma(W [h_v || a_v] + b))``."""
        z = ops.matmul(ops.concatenate([self_features, aggregated], axis=-1), self.kernel)
        if self.bias is not None:
            z = z + self.bias
        z = self.activation(z)
        return l2_normalize(z) if self.normalize else z

    def call(self, self_features, neighbor_features, mask=None):
        self_features = ops.convert_to_tensor(self_features)
        self._check_dim(self_features, "self_features")
        neighbor_features = ops.convert_to_tensor(neighbor_features)
        if len(neighbor_features.shape) != len(self_features.shape) + 1:
            raise ValueError(
                "neighbor_features must have one axis more than self_features ([..., fanout, d_in] vs [..., d_in]); "
                f"got {tuple(neighbor_features.shape)} and {tuple(self_features.shape)}"
            )
        return self.combine(self_features, self.aggregate(neighbor_features, mask))

    def compute_output_shape(self, self_features_shape, neighbor_features_shape=None, mask_shape=None):
        return tuple(self_features_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "aggregator": self.aggregator,
            "activation": keras.activations.serialize(self.activation),
            "normalize": self.normalize,
            "pool_units": self.pool_units,
            "use_bias": self.use_bias,
            "seed": self.seed,
        }

    def __repr__(self) -> str:
        return f"GraphSAGELayer(units={self.units}, aggregator={self.aggregator!r}, normalize={self.normalize})"


@keras.saving.register_keras_serializable(package="recnotes")
class GraphSAGERecommender(keras.Model):
    """Users and items represented by ``K`` GraphSAGE hops over the user–item graph.

    ``h^0`` of a node is a learned id embedding (one extra row per type,
    ``"unseen"``, stands for nodes the model was not trained on).  Hop ``k``
    of a user aggregates items and hop ``k`` of an item aggregates users, so
    every hop has a user layer and an item layer (:class:`GraphSAGELayer`,
    ReLU on hidden hops, none on the last one, L2-normalized outputs).  With
    ``K = 2`` and fanouts ``[10, 5]``, a user's vector mixes its own id, 10
    of its items and 5 users of each of them.  ``score(u, i) = <h_u^K, h_i^K>``;
    training minimizes ``retrieval_loss`` over in-batch logits divided by
    ``temperature`` (as :class:`~recnotes.models.TwoTowerModel`).

    Inputs: a dict from :func:`recnotes.graph.neighborhood_batch` —
    ``"user"``, ``"item"`` ``[B]``, the targets' hop-1 samples
    ``"{side}_hop1"`` / ``"{side}_mask1"`` ``[B, f1]`` and, for ``k = 2..K``,
    every node's hop-``k`` sample ``"{side}_table{k}"`` / ``"{side}_tmask{k}"``
    ``[num_nodes, f_k]`` (layer-wise sampling, see :meth:`represent_all`);
    optionally ``"item_probability"`` ``[B]`` for the logQ correction.

    Outputs of ``call``: ``{"user": [B, d], "item": [B, d]}``.

    Inference uses every neighbor (:meth:`embed_all`, exact mean / max over
    the full neighborhood, deterministic) or a seeded sample (:meth:`embed`).
    A graph with more users or items than the model has rows embeds the extra
    nodes from the "unseen" row and their neighbors (inductive use).

    Args:
      num_users, num_items: nodes the model has id rows for.
      embedding_dim: ``d`` of every hop.
      num_layers: ``K`` (0 = normalized id embeddings only).
      aggregator: ``"mean"`` or ``"maxpool"``.
      temperature: softmax temperature of the in-batch logits.
      remove_accidental_hits: mask in-batch copies of a row's positive.
      retrieval_loss: a Keras loss on ``(labels [B, B], logits [B, B])``
        (default :class:`~recnotes.losses.SoftmaxCrossEntropy`; e.g.
        :class:`~recnotes.losses.BPR`).
      seed: seed of the initializers.
    """

    def __init__(
        self,
        num_users: int,
        num_items: int,
        embedding_dim: int = 64,
        num_layers: int = 2,
        aggregator: str = "mean",
        temperature: float = 0.1,
        remove_accidental_hits: bool = False,
        retrieval_loss: keras.losses.Loss | dict | None = None,
        seed: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        for name, value in (("num_users", num_users), ("num_items", num_items), ("embedding_dim", embedding_dim)):
            if int(value) != value or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if int(num_layers) != num_layers or num_layers < 0:
            raise ValueError(f"num_layers must be an integer >= 0, got {num_layers!r}")
        if aggregator not in _AGGREGATORS:
            raise ValueError(f"aggregator must be one of {list(_AGGREGATORS)}, got {aggregator!r}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.num_users, self.num_items = int(num_users), int(num_items)
        self.embedding_dim, self.num_layers = int(embedding_dim), int(num_layers)
        self.aggregator, self.temperature = aggregator, float(temperature)
        self.remove_accidental_hits = bool(remove_accidental_hits)
        self.seed = seed
        offset = lambda o: None if seed is None else seed + o  # noqa: E731
        self.embeddings = {
            USER: keras.layers.Embedding(
                self.num_users + 1, self.embedding_dim, name="user_embedding",
                embeddings_initializer=keras.initializers.RandomNormal(stddev=0.05, seed=offset(0)),
            ),
            ITEM: keras.layers.Embedding(
                self.num_items + 1, self.embedding_dim, name="item_embedding",
                embeddings_initializer=keras.initializers.RandomNormal(stddev=0.05, seed=offset(1)),
            ),
        }
        self.sage_layers = {
            side: [
                GraphSAGELayer(
                    self.embedding_dim,
                    aggregator=aggregator,
                    activation="relu" if k < self.num_layers - 1 else "linear",
                    seed=offset(10 + 2 * k + (side == ITEM)),
                    name=f"{side}_hop{k + 1}",
                )
                for k in range(self.num_layers)
            ]
            for side in (USER, ITEM)
        }
        self.retrieval_loss = resolve_retrieval_loss(retrieval_loss)

    def build(self, input_shape=None):
        if self.built:
            return
        for side in (USER, ITEM):
            self.embeddings[side].build((None,))
            for layer in self.sage_layers[side]:
                layer.build((None, self.embedding_dim))
        self.built = True

    # -- representations -------------------------------------------------
    def _lookup(self, node_type: str, ids):
        """``h^0``: id rows; indices beyond the trained ones use the "unseen" row."""
        limit = self.num_users if node_type == USER else self.num_items
        ids = ops.minimum(ops.cast(ids, "int32"), limit)
        return self.embeddings[node_type](ids)

    def _check_inputs(self, inputs):
        needed = [USER, ITEM] + [key for key, _ in neighborhood_keys(self.num_layers)]
        missing = [key for key in needed if key not in inputs]
        if missing:
            raise ValueError(
                f"inputs lack {missing} for num_layers={self.num_layers}; got keys {sorted(inputs)} "
                "(build batches with recnotes.graph.neighborhood_batch, fanouts of length num_layers)"
            )

    def represent_all(self, inputs, num_users: int, num_items: int):
        """``{side: [B, d]}`` of the batch's targets from a :func:`~recnotes.graph.neighborhood_batch` dict.

        Hops ``k = 1..K-1`` are computed for every node of the graph (``num_users``,
        ``num_items`` rows) from the per-node tables; hop ``K`` and the targets'
        own chain use the targets' hop-1 samples::

            h_all^k = SAGE_k(h_all^{k-1}, h_all^{k-1}[table_{K-k+1}])   for every node, k < K
            h_t^k   = SAGE_k(h_t^{k-1},  h_all^{k-1}[hop1_t])            for the targets
        """
        self._check_inputs(inputs)
        K = self.num_layers
        targets = {side: self._lookup(side, inputs[side]) for side in (USER, ITEM)}
        if K == 0:
            return {side: l2_normalize(h) for side, h in targets.items()}
        every = {USER: self._lookup(USER, ops.arange(num_users)), ITEM: self._lookup(ITEM, ops.arange(num_items))}
        for k in range(1, K + 1):
            targets = {
                side: self.sage_layers[side][k - 1](
                    targets[side],
                    ops.take(every[_OTHER[side]], inputs[f"{side}_hop1"], axis=0),
                    inputs[f"{side}_mask1"],
                )
                for side in (USER, ITEM)
            }
            if k < K:
                hop = K - k + 1
                every = {
                    side: self.sage_layers[side][k - 1](
                        every[side],
                        ops.take(every[_OTHER[side]], inputs[f"{side}_table{hop}"], axis=0),
                        inputs[f"{side}_tmask{hop}"],
                    )
                    for side in (USER, ITEM)
                }
        return targets

    def call(self, inputs):
        return self.represent_all(inputs, self.num_users, self.num_items)

    # -- training ----------------------------------------------------------
    def in_batch_logits(self, x, y_pred=None):
        """``(logits [B, B], labels [B, B])``: ``<h_u, h_i> / temperature``, corrections applied."""
        if y_pred is None:
            y_pred = self(x)
        return retrieval_logits(
            y_pred["user"],
            y_pred["item"],
            temperature=self.temperature,
            candidate_ids=x["item"],
            candidate_sampling_probability=x.get("item_probability"),
            remove_hits=self.remove_accidental_hits,
        )

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if y_pred is None:
            y_pred = self(x, training=training)
        logits, labels = self.in_batch_logits(x, y_pred)
        return self.retrieval_loss(labels, logits, sample_weight=sample_weight)

    # -- inference ---------------------------------------------------------
    def _full_hops(self, graph: BipartiteGraph):
        """Yield ``(k, side, layer, h^{k-1}_side, aggregate)`` hop by hop over the whole graph, and the states."""
        self.build()
        h = {side: self._lookup(side, np.arange(graph.num_nodes(side))) for side in (USER, ITEM)}
        states = [h]
        edges = {}
        for side in (USER, ITEM):
            indptr, indices = graph.csr(side)
            segment = np.repeat(np.arange(graph.num_nodes(side), dtype=np.int32), np.diff(indptr))
            edges[side] = (indices, segment, graph.num_nodes(side))
        parts = []
        for k in range(self.num_layers):
            new = {}
            for side in (USER, ITEM):
                indices, segment, n = edges[side]
                layer = self.sage_layers[side][k]
                aggregated = layer.aggregate_segments(ops.take(h[_OTHER[side]], indices, axis=0), segment, n)
                parts.append((k + 1, side, layer, h[side], aggregated))
                new[side] = layer.combine(h[side], aggregated)
            h = new
            states.append(h)
        return states, parts

    def embed_all(self, graph: BipartiteGraph) -> tuple[np.ndarray, np.ndarray]:
        """``(users [graph.num_users, d], items [graph.num_items, d])`` from every neighbor.

        Layer-wise over the whole graph: hop ``k`` of every node aggregates
        *all* its neighbors' hop ``k-1`` vectors (mean or max over the full
        neighborhood, no sampling), so the result is deterministic.  Nodes
        beyond the model's id rows get the "unseen" row as ``h^0``.
        """
        states, _ = self._full_hops(graph)
        last = states[-1]
        if self.num_layers == 0:
            last = {side: l2_normalize(v) for side, v in last.items()}
        return ops.convert_to_numpy(last[USER]), ops.convert_to_numpy(last[ITEM])

    def hop_mix(self, graph: BipartiteGraph):
        """How much of each hop comes from the node itself and how much from its neighbors.

        Hop ``k`` computes ``W [h_v || a_v] = W_self h_v + W_neigh a_v``
        (``W`` split by rows).  For every node of the graph (full
        neighborhoods) this returns, per hop and side, the mean norms
        ``|W_self h_v|`` and ``|W_neigh a_v|`` and the mean share
        ``|W_self h_v| / (|W_self h_v| + |W_neigh a_v|)``.

        Returns:
          A DataFrame with columns hop, side, self_norm, neighbor_norm, self_share.
        """
        import pandas as pd

        _, parts = self._full_hops(graph)
        rows = []
        for k, side, layer, h_self, aggregated in parts:
            w = layer.kernel
            own = ops.convert_to_numpy(ops.norm(ops.matmul(h_self, w[: layer.input_dim]), axis=-1))
            neighbor = ops.convert_to_numpy(ops.norm(ops.matmul(aggregated, w[layer.input_dim :]), axis=-1))
            share = own / np.maximum(own + neighbor, 1e-12)
            rows.append({"hop": k, "side": side, "self_norm": float(own.mean()),
                         "neighbor_norm": float(neighbor.mean()), "self_share": float(share.mean())})
        return pd.DataFrame(rows)

    def embed(self, graph: BipartiteGraph, node_type: str, nodes=None, fanouts=(10, 5), seed: int = 0,
              replace: bool = True) -> np.ndarray:
        """``[len(nodes), d]`` representations from one seeded neighbor sample (as in training).

        Unlike :meth:`embed_all`, the result depends on ``seed``; nodes beyond
        the model's id rows are embedded from the "unseen" row and their sample.
        """
        if node_type not in (USER, ITEM):
            raise ValueError(f"node_type must be 'user' or 'item', got {node_type!r}")
        if len(fanouts) != self.num_layers:
            raise ValueError(f"fanouts must have num_layers={self.num_layers} entries, got {list(fanouts)}")
        self.build()
        nodes = np.arange(graph.num_nodes(node_type)) if nodes is None else np.asarray(nodes)
        other = np.zeros(len(nodes), dtype=np.int32)  # the other side of the batch is not used
        pairs = (nodes, other) if node_type == USER else (other, nodes)
        batch = neighborhood_batch(graph, *pairs, fanouts, np.random.default_rng(seed), replace,
                                   exclude_target_edges=False)
        return ops.convert_to_numpy(self.represent_all(batch, graph.num_users, graph.num_items)[node_type])

    def scorer(self, graph: BipartiteGraph):
        """A function ``users -> scores [len(users), graph.num_items]`` for the evaluator (full neighborhoods)."""
        users, items = self.embed_all(graph)
        return lambda u: users[np.asarray(u)] @ items.T

    def get_config(self):
        return {
            **super().get_config(),
            "num_users": self.num_users,
            "num_items": self.num_items,
            "embedding_dim": self.embedding_dim,
            "num_layers": self.num_layers,
            "aggregator": self.aggregator,
            "temperature": self.temperature,
            "remove_accidental_hits": self.remove_accidental_hits,
            "retrieval_loss": keras.saving.serialize_keras_object(self.retrieval_loss),
            "seed": self.seed,
        }


@dataclasses.dataclass
class GraphSAGERun(TrainingRun):
    """What :func:`fit_graphsage` returns: a :class:`~recnotes.training.TrainingRun` plus the train graph."""

    graph: BipartiteGraph = None
    fanouts: tuple = ()

    def __repr__(self) -> str:
        return f"GraphSAGE{super().__repr__()} on {self.graph!r} with fanouts {list(self.fanouts)}"


def fit_graphsage(
    train,
    evaluator,
    *,
    epochs: int,
    fanouts=(10, 5),
    batch_size: int = 1024,
    embedding_dim: int = 64,
    aggregator: str = "mean",
    learning_rate: float = 0.01,
    temperature: float = 0.1,
    logq: bool = False,
    replace: bool = True,
    exclude_target_edges: bool = True,
    retrieval_loss=None,
    seed: int = 0,
    jit_compile="auto",
    callbacks=(),
    verbose: int = 0,
) -> GraphSAGERun:
    """Seed, build the train graph, sample neighborhoods and train a :class:`GraphSAGERecommender`.

    ``K = len(fanouts)`` hops.  The graph holds the ``train`` rows only;
    ids are encoded with the evaluator's encoders so the model's rows line
    up with the evaluator's score matrix.  Batches come from
    :func:`recnotes.graph.neighborhood_dataset` (edges reshuffled and
    neighborhoods resampled every epoch, seeded).  Optimizer: Adam.

    Args:
      train: the training rows (``userId``, ``movieId``).
      evaluator: a :class:`~recnotes.evaluation.FullRankingEvaluator`.
      fanouts: neighbors sampled per hop, e.g. ``[10, 5]``; ``[]`` for K = 0.
      replace: sample neighbors with replacement.
      exclude_target_edges: mask the edge being predicted out of its
        endpoints' hop-1 samples.
      logq: feed each row's item share of ``train`` as its sampling
        probability, for the logQ correction.
      jit_compile: passed to ``model.compile`` (Keras' ``"auto"`` uses XLA on
        CPU: a few seconds of compilation, then faster steps).
      Others: as in :class:`GraphSAGERecommender`.
    """
    from recnotes.graph import neighborhood_dataset
    from recnotes.sampling import item_frequencies

    if batch_size < 2:
        raise ValueError(f"batch_size must be >= 2: in-batch negatives need other rows, got {batch_size}")
    fanouts = tuple(int(f) for f in fanouts)
    set_seed(seed)
    graph = BipartiteGraph.from_frame(train, evaluator.user_encoder, evaluator.item_encoder)
    users = evaluator.user_encoder.transform(train.userId.to_numpy())
    items = evaluator.item_encoder.transform(train.movieId.to_numpy())
    probability = item_frequencies(items, graph.num_items)[items] if logq else None
    dataset = neighborhood_dataset(graph, users, items, fanouts, batch_size=batch_size, seed=seed, replace=replace,
                                   exclude_target_edges=exclude_target_edges, item_probability=probability)
    model = GraphSAGERecommender(
        num_users=graph.num_users,
        num_items=graph.num_items,
        embedding_dim=embedding_dim,
        num_layers=len(fanouts),
        aggregator=aggregator,
        temperature=temperature,
        retrieval_loss=retrieval_loss,
        seed=seed,
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=jit_compile)
    throughput = Throughput(len(users))
    history = model.fit(dataset, epochs=epochs, verbose=verbose, callbacks=[throughput, *callbacks])
    return GraphSAGERun(model, history, throughput, graph=graph, fanouts=fanouts)
