"""recnotes: a practitioner's notebook series and helper package for recommender models.

Modules, one concept each (import them directly; TensorFlow loads only with
the ones that need it):

* :mod:`recnotes.data` — load and validate MovieLens-format folders; ``IdEncoder``.
* :mod:`recnotes.splits` — chronological, global-temporal and random splits; leakage check.
* :mod:`recnotes.metrics` — Recall, NDCG, HitRate, MRR, AUC.
* :mod:`recnotes.evaluation` — full-ranking evaluator by the benchmark protocol; MostPop.
* :mod:`recnotes.pipeline` — ``tf.data`` input pipelines.
* :mod:`recnotes.losses` — retrieval losses as Keras 3 layers.
* :mod:`recnotes.models` — Keras 3 models (two-tower).
* :mod:`recnotes.training` — seeding, throughput, per-epoch evaluation, LR range test.
* :mod:`recnotes.optimization` — optimizer trajectories, Hessian-vector products, L-BFGS.
* :mod:`recnotes.objectives` — convex and non-convex full-batch MovieLens objectives.
* :mod:`recnotes.sweep` — parameter sweeps of notebooks (papermill) or functions.
* :mod:`recnotes.plotting` — the plots the notebooks show.
* :mod:`recnotes.report` — record a notebook's metrics for the runner.
* :mod:`recnotes.runner` — ``python -m recnotes run``.
"""

__version__ = "0.1.0"
