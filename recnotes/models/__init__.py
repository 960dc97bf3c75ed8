"""Recommender models as Keras 3 components."""

from recnotes.models.two_tower import TwoTowerModel

__all__ = ["TwoTowerModel"]
