"""Feature specs and feature tables for models that use more than ids.

Two kinds of feature, declared as small immutable specs (as in DeepCTR):

* :class:`CategoricalFeature` — one value per row (a user id, a release-year
  bucket).  Values are indices ``0 .. num_values - 1``; index ``num_values``
  is the out-of-vocabulary (OOV) index, so the embedding table has
  ``num_values + 1`` rows.
* :class:`MultiValuedFeature` — a variable-length list of values per row
  (genres, tags) pooled into one vector with a combiner (``sum``, ``mean``,
  ``sqrtn``).  Index ``0`` is reserved for padding, known values are
  ``1 .. V`` in vocabulary order and ``V + 1`` is the OOV index: the table
  has ``V + 2`` rows; padding never contributes to the pooled vector.

A :class:`FeatureTable` holds, for every user (or every item) index, the
encoded values of each feature: ``[n_rows]`` ints for a categorical feature,
``[n_rows, L]`` ids plus ``[n_rows, L]`` weights for a multi-valued one.
Models keep these tables as non-trainable weights and look rows up by the
user / item index, so training batches carry only ``{"user", "item"}``.

Builders: :func:`item_feature_table` (id, genres, release year, optionally
tags and a popularity bucket) and :func:`user_feature_table` (id and the
genre profile: the mean of the genre multi-hots of the user's *train* items).
Everything that depends on interactions is built from the train rows only.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pandas as pd

__all__ = [
    "NO_GENRES",
    "COMBINERS",
    "CategoricalFeature",
    "MultiValuedFeature",
    "FeatureTable",
    "split_genres",
    "parse_year",
    "tag_lists",
    "genre_multi_hot",
    "item_feature_table",
    "user_feature_table",
    "feature_from_config",
]

NO_GENRES = "(no genres listed)"
COMBINERS = ("sum", "mean", "sqrtn")
_YEAR = re.compile(r"\((\d{4})\)\s*$")


def _check_name(name):
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"feature name must be a non-empty string without '/', got {name!r}")


def _check_dim(embedding_dim):
    if int(embedding_dim) != embedding_dim or embedding_dim < 1:
        raise ValueError(f"embedding_dim must be a positive integer, got {embedding_dim!r}")


@dataclasses.dataclass(frozen=True)
class CategoricalFeature:
    """A single-valued categorical feature.

    Args:
      name: the feature's name (unique within a tower).
      num_values: known values, encoded ``0 .. num_values - 1``; the index
        ``num_values`` is the OOV index (unknown values).
      embedding_dim: width of its embedding.
      labels: optional names of the values (for plots and ``encode``).
    """

    name: str
    num_values: int
    embedding_dim: int = 32
    labels: tuple = ()

    kind = "categorical"

    def __post_init__(self):
        _check_name(self.name)
        _check_dim(self.embedding_dim)
        if int(self.num_values) != self.num_values or self.num_values < 1:
            raise ValueError(f"{self.name}: num_values must be a positive integer, got {self.num_values!r}")
        if self.labels and len(self.labels) != self.num_values:
            raise ValueError(f"{self.name}: {len(self.labels)} labels given for num_values={self.num_values}")
        object.__setattr__(self, "labels", tuple(self.labels))

    @property
    def oov_index(self) -> int:
        return int(self.num_values)

    @property
    def num_embeddings(self) -> int:
        """Rows of the embedding table: the known values plus OOV."""
        return int(self.num_values) + 1

    def encode(self, values) -> np.ndarray:
        """Labels to indices ``[n]`` int32; a value not in ``labels`` gets the OOV index."""
        if not self.labels:
            raise ValueError(f"{self.name}: encode needs labels; this feature was declared by num_values only")
        index = {v: i for i, v in enumerate(self.labels)}
        return np.array([index.get(v, self.oov_index) for v in values], dtype=np.int32)

    def get_config(self) -> dict:
        return {"kind": self.kind, "name": self.name, "num_values": int(self.num_values),
                "embedding_dim": int(self.embedding_dim), "labels": list(self.labels)}


@dataclasses.dataclass(frozen=True)
class MultiValuedFeature:
    """A variable-length list of categorical values, pooled with a combiner.

    Index ``0`` pads lists to a common length, known values are ``1 .. V``
    in ``vocabulary`` order, ``V + 1`` is OOV.  With weights ``w_j`` (1 for
    plain lists) and embeddings ``e_j`` of a row's non-padding entries::

        sum   = Σ_j w_j e_j
        mean  = Σ_j w_j e_j / Σ_j w_j
        sqrtn = Σ_j w_j e_j / sqrt(Σ_j w_j²)

    and an empty list pools to the zero vector (the divisor is clipped).

    Args:
      name: the feature's name.
      vocabulary: the known values, in index order.
      embedding_dim: width of its embedding.
      combiner: ``"sum"``, ``"mean"`` or ``"sqrtn"``.
    """

    name: str
    vocabulary: tuple
    embedding_dim: int = 32
    combiner: str = "mean"

    kind = "multi_valued"
    padding_index = 0

    def __post_init__(self):
        _check_name(self.name)
        _check_dim(self.embedding_dim)
        object.__setattr__(self, "vocabulary", tuple(self.vocabulary))
        if self.combiner not in COMBINERS:
            raise ValueError(f"{self.name}: combiner must be one of {', '.join(COMBINERS)}, got {self.combiner!r}")
        if len(set(self.vocabulary)) != len(self.vocabulary):
            raise ValueError(f"{self.name}: the vocabulary has duplicate values")

    @classmethod
    def from_lists(cls, name: str, lists, embedding_dim: int = 32, combiner: str = "mean", min_count: int = 1):
        """Vocabulary = the values occurring in ``lists`` at least ``min_count`` times, sorted."""
        counts: dict = {}
        for values in lists:
            for v in values:
                counts[v] = counts.get(v, 0) + 1
        vocabulary = sorted(v for v, c in counts.items() if c >= min_count)
        return cls(name, tuple(vocabulary), embedding_dim, combiner)

    @property
    def vocabulary_size(self) -> int:
        return len(self.vocabulary)

    @property
    def oov_index(self) -> int:
        return len(self.vocabulary) + 1

    @property
    def num_embeddings(self) -> int:
        """Rows of the embedding table: padding, the known values, OOV."""
        return len(self.vocabulary) + 2

    def encode(self, lists, max_length: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Lists of values to padded ``(ids [n, L] int32, weights [n, L] float32)``.

        Known values get ``1 + position``, unknown ones the OOV index, padding
        ``0`` with weight 0.  ``L`` is the longest list (at least 1) unless
        ``max_length`` is given; longer lists are then an error.
        """
        index = {v: i + 1 for i, v in enumerate(self.vocabulary)}
        lists = [list(values) for values in lists]
        longest = max((len(v) for v in lists), default=0)
        length = max(longest, 1) if max_length is None else int(max_length)
        if longest > length:
            row = next(i for i, v in enumerate(lists) if len(v) > length)
            raise ValueError(f"{self.name}: row {row} has {len(lists[row])} values, more than max_length={length}")
        ids = np.zeros((len(lists), length), dtype=np.int32)
        for r, values in enumerate(lists):
            ids[r, : len(values)] = [index.get(v, self.oov_index) for v in values]
        return ids, (ids > 0).astype(np.float32)

    def multi_hot(self, lists, oov_column: bool = False) -> np.ndarray:
        """``[n, V]`` float32 rows with 1 for each known value in the list.

        Duplicates count once.  With ``oov_column`` a last column ``[n, V + 1]``
        is 1 where the list holds a value outside the vocabulary; an empty list
        is all zeros either way.
        """
        index = {v: i for i, v in enumerate(self.vocabulary)}
        width = len(self.vocabulary) + bool(oov_column)
        out = np.zeros((len(lists), width), dtype=np.float32)
        for r, values in enumerate(lists):
            for v in values:
                j = index.get(v)
                if j is not None:
                    out[r, j] = 1.0
                elif oov_column:
                    out[r, -1] = 1.0
        return out

    def get_config(self) -> dict:
        return {"kind": self.kind, "name": self.name, "vocabulary": list(self.vocabulary),
                "embedding_dim": int(self.embedding_dim), "combiner": self.combiner}


def feature_from_config(config: dict):
    """A spec from its ``get_config()`` dict."""
    config = dict(config)
    kind = config.pop("kind", None)
    if kind == "categorical":
        return CategoricalFeature(**{**config, "labels": tuple(config.get("labels", ()))})
    if kind == "multi_valued":
        return MultiValuedFeature(**{**config, "vocabulary": tuple(config["vocabulary"])})
    raise ValueError(f"feature config kind must be 'categorical' or 'multi_valued', got {kind!r}")


@dataclasses.dataclass
class FeatureTable:
    """Encoded feature values for every row (user or item index) of one tower.

    Attributes:
      features: the specs, in field order.
      num_rows: users or items.
      arrays: ``name -> [num_rows]`` int32 for a categorical feature;
        ``name -> [num_rows, L]`` int32 ids and ``name + "/weights" ->
        [num_rows, L]`` float32 for a multi-valued one.
    """

    features: list
    num_rows: int
    arrays: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError(f"feature names must be unique, got {names}")
        for f in self.features:
            if f.name not in self.arrays:
                continue
            ids = np.asarray(self.arrays[f.name])
            expected = "[num_rows]" if f.kind == "categorical" else "[num_rows, L]"
            ndim = 1 if f.kind == "categorical" else 2
            if ids.ndim != ndim or ids.shape[0] != self.num_rows:
                raise ValueError(f"{f.name}: expected ids of shape {expected} with num_rows={self.num_rows}, got {ids.shape}")
            high = f.num_embeddings - 1
            if ids.size and (ids.min() < 0 or ids.max() > high):
                raise ValueError(f"{f.name}: ids must be in [0, {high}], got range [{ids.min()}, {ids.max()}]")
            if f.kind == "multi_valued":
                w = np.asarray(self.arrays.get(f.name + "/weights", (ids > 0).astype(np.float32)))
                if w.shape != ids.shape:
                    raise ValueError(f"{f.name}: weights of shape {w.shape} do not match ids of shape {ids.shape}")
                self.arrays[f.name + "/weights"] = w.astype(np.float32)

    def feature(self, name: str):
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"no feature {name!r}; have {[f.name for f in self.features]}")

    def shapes(self) -> dict:
        """``name -> shape`` of every array (what a model needs to allocate them)."""
        return {k: list(np.shape(v)) for k, v in self.arrays.items()}

    def get_config(self) -> dict:
        return {"features": [f.get_config() for f in self.features], "num_rows": int(self.num_rows),
                "shapes": self.shapes()}

    def __repr__(self) -> str:
        parts = [f"{f.name}({f.kind}, {f.num_embeddings} rows, dim {f.embedding_dim})" for f in self.features]
        return f"FeatureTable(rows={self.num_rows:,}: " + ", ".join(parts) + ")"


def split_genres(genres) -> list[list[str]]:
    """MovieLens ``genres`` strings to lists: ``"A|B"`` -> ``["A", "B"]``.

    ``"(no genres listed)"``, an empty string and a missing value all give
    ``[]`` (the placeholder is not a genre).
    """
    out = []
    for i, text in enumerate(pd.Series(genres, dtype=object).tolist()):
        if text is None or (isinstance(text, float) and np.isnan(text)):
            out.append([])
            continue
        if not isinstance(text, str):
            raise ValueError(f"genres row {i}: expected a '|'-separated string, got {text!r}")
        out.append([g.strip() for g in text.split("|") if g.strip() and g.strip() != NO_GENRES])
    return out


def parse_year(titles) -> np.ndarray:
    """Release year from titles ending in ``"(YYYY)"``; ``-1`` where there is none."""
    years = []
    for title in pd.Series(titles, dtype=object).tolist():
        match = _YEAR.search(title.strip()) if isinstance(title, str) else None
        years.append(int(match.group(1)) if match else -1)
    return np.array(years, dtype=np.int64)


def tag_lists(tags: pd.DataFrame, movie_ids, interactions: pd.DataFrame | None = None) -> list[list[str]]:
    """Per movie (in ``movie_ids`` order) the distinct tags, lowercased and stripped.

    With ``interactions`` (e.g. the train rows), only tags whose
    ``(userId, movieId)`` pair occurs there are used: a tag written by a user
    whose rating of the movie is held out would leak.
    """
    missing = [c for c in ("userId", "movieId", "tag") if c not in tags.columns]
    if missing:
        raise ValueError(f"tags lack column(s) {', '.join(missing)}; expected userId, movieId, tag (tags.csv)")
    tags = tags[["userId", "movieId", "tag"]].copy()
    if interactions is not None:
        keys = pd.MultiIndex.from_frame(interactions[["userId", "movieId"]])
        tags = tags[pd.MultiIndex.from_frame(tags[["userId", "movieId"]]).isin(keys)]
    tags["tag"] = tags.tag.astype(str).str.strip().str.lower()
    tags = tags[tags.tag != ""]
    grouped = tags.groupby("movieId").tag.apply(lambda s: sorted(set(s)))
    return [list(grouped.get(m, [])) for m in np.asarray(movie_ids)]


def _movies_for(movies: pd.DataFrame, movie_ids) -> pd.DataFrame:
    missing = [c for c in ("movieId", "title", "genres") if c not in movies.columns]
    if missing:
        raise ValueError(f"movies lack column(s) {', '.join(missing)}; expected movieId, title, genres (movies.csv)")
    indexed = movies.drop_duplicates("movieId").set_index("movieId")
    absent = ~pd.Index(np.asarray(movie_ids)).isin(indexed.index)
    if absent.any():
        first = np.asarray(movie_ids)[absent][:5].tolist()
        raise ValueError(f"{int(absent.sum())} movieId(s) have no row in movies.csv, e.g. {list(first)}")
    return indexed.loc[np.asarray(movie_ids)]


def genre_multi_hot(movies: pd.DataFrame, movie_ids=None, vocabulary=None) -> tuple[np.ndarray, tuple]:
    """``(multi_hot [n, G] float32, vocabulary)`` of the genres of ``movie_ids`` (default: all rows)."""
    movie_ids = movies.movieId.to_numpy() if movie_ids is None else movie_ids
    lists = split_genres(_movies_for(movies, movie_ids).genres)
    spec = (MultiValuedFeature("genres", tuple(vocabulary)) if vocabulary is not None
            else MultiValuedFeature.from_lists("genres", lists))
    return spec.multi_hot(lists), spec.vocabulary


def _year_buckets(years: np.ndarray, width: int) -> tuple[np.ndarray, tuple]:
    known = years >= 0
    if not known.any():
        return np.zeros(len(years), np.int32), ("unknown",)
    low = int(years[known].min()) // width * width
    high = int(years[known].max()) // width * width
    starts = list(range(low, high + 1, width))
    ids = np.where(known, (years - low) // width, len(starts)).astype(np.int32)
    return ids, tuple(f"{s}-{s + width - 1}" for s in starts)


def item_feature_table(
    movies: pd.DataFrame,
    item_ids,
    train: pd.DataFrame,
    embedding_dim: int = 32,
    genres: bool = True,
    year: bool = True,
    year_width: int = 5,
    tags: pd.DataFrame | None = None,
    tag_min_count: int = 2,
    popularity_buckets: int = 0,
    combiner: str = "mean",
    item_id: bool = True,
) -> FeatureTable:
    """Item features for the items ``item_ids`` (the evaluator's item order).

    Fields, in order: ``item_id``; ``genres`` (multi-valued); ``year`` (release
    year from the title, in buckets of ``year_width`` years, OOV when the title
    has none); ``tags`` (multi-valued, tags attached by train interactions,
    kept when used on at least ``tag_min_count`` items); ``popularity`` (log2
    buckets of the item's train count, if ``popularity_buckets > 0``).
    """
    item_ids = np.asarray(item_ids)
    table = _movies_for(movies, item_ids)
    features, arrays = [], {}
    n = len(item_ids)
    if item_id:
        features.append(CategoricalFeature("item_id", n, embedding_dim))
        arrays["item_id"] = np.arange(n, dtype=np.int32)
    if genres:
        lists = split_genres(table.genres)
        spec = MultiValuedFeature.from_lists("genres", lists, embedding_dim, combiner)
        features.append(spec)
        arrays["genres"], arrays["genres/weights"] = spec.encode(lists)
    if year:
        ids, labels = _year_buckets(parse_year(table.title), year_width)
        features.append(CategoricalFeature("year", len(labels), embedding_dim, labels))
        arrays["year"] = ids
    if tags is not None:
        lists = tag_lists(tags, item_ids, train)
        spec = MultiValuedFeature.from_lists("tags", lists, embedding_dim, combiner, min_count=tag_min_count)
        known = set(spec.vocabulary)
        lists = [[t for t in values if t in known] for values in lists]  # rare tags dropped, not OOV
        features.append(spec)
        arrays["tags"], arrays["tags/weights"] = spec.encode(lists)
    if popularity_buckets:
        counts = train.movieId.value_counts().reindex(item_ids, fill_value=0).to_numpy()
        ids = np.minimum(np.floor(np.log2(np.maximum(counts, 1))).astype(np.int32), popularity_buckets - 1)
        features.append(CategoricalFeature("popularity", int(popularity_buckets), embedding_dim))
        arrays["popularity"] = ids
    if not features:
        raise ValueError("item_feature_table: no feature selected")
    return FeatureTable(features, n, arrays)


def user_feature_table(
    train: pd.DataFrame,
    user_ids,
    item_ids,
    items: FeatureTable | None = None,
    embedding_dim: int = 32,
    user_id: bool = True,
    genre_profile: bool = True,
) -> FeatureTable:
    """User features for the users ``user_ids`` (the evaluator's user order), from train rows only.

    Fields: ``user_id``; ``genre_profile``: the mean of the genre multi-hots of
    the user's train items, pooled as a weighted sum over the genre vocabulary
    (``Σ_g profile_g e_g``), so it equals ``profile @ table``.  A user without
    train rows has the zero profile.
    """
    user_ids, item_ids = np.asarray(user_ids), np.asarray(item_ids)
    features, arrays = [], {}
    n = len(user_ids)
    if user_id:
        features.append(CategoricalFeature("user_id", n, embedding_dim))
        arrays["user_id"] = np.arange(n, dtype=np.int32)
    if genre_profile:
        if items is None or "genres" not in [f.name for f in items.features]:
            raise ValueError("genre_profile needs the item FeatureTable with a 'genres' feature (items=...)")
        spec = items.feature("genres")
        G = spec.vocabulary_size
        item_mh = np.zeros((items.num_rows, G + 2), dtype=np.float64)
        np.put_along_axis(item_mh, items.arrays["genres"].astype(np.int64), 1.0, axis=1)
        item_mh = item_mh[:, 1 : G + 1]  # known genres only (padding and OOV dropped)
        u = pd.Index(user_ids).get_indexer(train.userId.to_numpy())
        i = pd.Index(item_ids).get_indexer(train.movieId.to_numpy())
        if (u < 0).any() or (i < 0).any():
            raise ValueError("train rows hold userId / movieId values outside user_ids / item_ids")
        sums = np.zeros((n, G))
        np.add.at(sums, u, item_mh[i])
        counts = np.bincount(u, minlength=n)[:, None]
        profile = sums / np.maximum(counts, 1)
        features.append(MultiValuedFeature("genre_profile", spec.vocabulary, embedding_dim, "sum"))
        arrays["genre_profile"] = np.tile(np.arange(1, G + 1, dtype=np.int32), (n, 1))
        arrays["genre_profile/weights"] = profile.astype(np.float32)
    if not features:
        raise ValueError("user_feature_table: no feature selected")
    return FeatureTable(features, n, arrays)
