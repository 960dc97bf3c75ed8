"""Same seed, same numbers: the two-tower trained in two separate processes repeats its metrics."""

import json
import os
import subprocess
import sys

import pytest

from conftest import BUNDLED, ROOT

SCRIPT = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
import numpy as np
from tensorflow.python.framework.config import is_op_determinism_enabled  # what Keras itself checks
from recnotes.data import load_movielens
from recnotes.evaluation import FullRankingEvaluator
from recnotes.splits import chrono_split
from recnotes.training import fit_two_tower

seed = int(sys.argv[2])
split = chrono_split(load_movielens(sys.argv[1]).ratings)
evaluator = FullRankingEvaluator.from_split(split)
run = fit_two_tower(split.train, evaluator, epochs=1, batch_size=1024, seed=seed)
table = evaluator.evaluate(run.model.score_all_items, ks=[20], auc=False)
vectors = run.model.item_vectors()
print(json.dumps({"Recall@20": float(table.loc[20, "Recall"]), "NDCG@20": float(table.loc[20, "NDCG"]),
                  "loss": run.history.history["loss"], "item_vector_sum": float(np.abs(vectors).sum()),
                  "item_vector_0": vectors[0, :4].tolist(),
                  "determinism": bool(is_op_determinism_enabled())}))
"""


def _train(seed: int) -> dict:
    env = {**os.environ, "PYTHONHASHSEED": "random"}  # the script's set_seed must not depend on the parent's
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(BUNDLED), str(seed)], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_two_tower_repeats_its_metrics_across_processes():
    first, second, other = _train(0), _train(0), _train(1)
    for key in ("Recall@20", "NDCG@20"):
        assert round(first[key], 4) == round(second[key], 4)
    # not only to 4 decimals: on a CPU the whole run repeats exactly
    assert first["loss"] == second["loss"] and first["item_vector_0"] == second["item_vector_0"]
    assert first["item_vector_sum"] == second["item_vector_sum"]
    # and the seed matters: another seed gives other weights and losses
    assert other["item_vector_0"] != first["item_vector_0"] and other["loss"] != first["loss"]
    assert first["Recall@20"] > 0.02  # it trained: random scores give ~0.0025 (20 of 8,230 items)
    assert first["determinism"] is False  # no GPU here: set_seed leaves op determinism off ("auto")


def test_set_seed_checks_its_argument():
    from recnotes.training import set_seed

    with pytest.raises(ValueError, match="deterministic must be True, False or 'auto'"):
        set_seed(0, deterministic="yes")
