"""Keras 3 layers for feature-based recommenders, one concept per module.

* :mod:`~recnotes.layers.pooling` — :class:`PooledEmbedding`, a multi-valued
  feature (genres, tags) pooled with ``sum`` / ``mean`` / ``sqrtn``.
* :mod:`~recnotes.layers.fields` — :class:`FieldEmbedding`, every feature of
  a :class:`~recnotes.features.FeatureTable` embedded as ``[B, F, k]`` fields.
* :mod:`~recnotes.layers.fm` — :class:`FactorizationMachine`, the pairwise
  interaction term ½[(Σv)² − Σv²].
* :mod:`~recnotes.layers.senet` — :class:`SENet`, squeeze-and-excitation
  field reweighting (returns the weights too).
"""

from recnotes.layers.fields import FieldEmbedding
from recnotes.layers.fm import FactorizationMachine
from recnotes.layers.pooling import PooledEmbedding
from recnotes.layers.senet import SENet

__all__ = ["PooledEmbedding", "FieldEmbedding", "FactorizationMachine", "SENet"]
