"""The bench: its loop reference, its table and JSON, run comparison and the command's errors.

The reference libraries (implicit, TFRS) are benchmark-only and not installed by
`make test`; these tests run the bench with recnotes models and the numpy MostPop.
"""

import json

import numpy as np
import pytest

from recnotes.bench.run import compare_runs, format_markdown, main_bench, run_bench
from recnotes.bench.speed import per_user_loop_evaluate, time_evaluation
from recnotes.evaluation import FullRankingEvaluator
from recnotes.data import load_movielens
from recnotes.splits import chrono_split


@pytest.fixture
def synthetic_evaluator(synthetic_movielens):
    split = chrono_split(load_movielens(synthetic_movielens).ratings)
    return FullRankingEvaluator.from_split(split)


def test_loop_reference_equals_the_vectorized_evaluator_with_ties(synthetic_evaluator):
    ev = synthetic_evaluator
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 3, (len(ev.user_encoder), len(ev.item_encoder))).astype(float)  # many ties
    fast = ev.evaluate(scores, ks=(1, 5, 10), auc=False)
    slow = per_user_loop_evaluate(ev, lambda u: scores[u], ks=(1, 5, 10))
    np.testing.assert_allclose(slow.to_numpy(), fast[["Recall", "NDCG"]].to_numpy(), rtol=0, atol=1e-12)
    assert slow.loc[10, "Recall"] > 0  # the case is not trivial: there are hits


def test_loop_reference_reproduces_the_protocol_mostpop(bundled):
    from recnotes.evaluation import most_popular_scores

    split = chrono_split(bundled.ratings)
    ev = FullRankingEvaluator.from_split(split)
    table = most_popular_scores(split.train, ev)
    slow = per_user_loop_evaluate(ev, lambda u: table[u], ks=(20,))
    assert round(slow.loc[20, "Recall"], 4) == 0.0650 and round(slow.loc[20, "NDCG"], 4) == 0.0571


def test_time_evaluation_reports_agreement(synthetic_evaluator):
    ev = synthetic_evaluator
    scores = np.random.default_rng(0).normal(size=(len(ev.user_encoder), len(ev.item_encoder)))
    timing = time_evaluation(ev, lambda u: scores[u], ks=(5,), repeats=2)
    assert timing.max_metric_difference < 1e-12
    assert timing.users == len(ev.eval_users) and timing.items == len(ev.item_encoder)
    assert timing.speedup == pytest.approx(timing.loop_seconds / timing.vectorized_seconds)


def test_quick_bench_rows_json_and_markdown(synthetic_movielens):
    result = run_bench(synthetic_movielens, models=["MostPop", "two-tower"], references=["MostPop (numpy)"],
                       quick=True, log=lambda text: None)
    assert list(result.table.index) == ["MostPop", "two-tower", "MostPop (numpy)"]
    # recnotes' MostPop and the independent numpy one score identically
    metric_columns = [f"{m}@{k}" for m in ("Recall", "NDCG") for k in (10, 20, 50)]
    np.testing.assert_array_equal(result.table.loc["MostPop", metric_columns].to_numpy(dtype=float),
                                  result.table.loc["MostPop (numpy)", metric_columns].to_numpy(dtype=float))
    assert result.table.loc["two-tower", "examples_per_second"] > 0
    assert not result.failures
    # no TFRS row: only the evaluation ratio, whose loop agrees with the evaluator
    assert len(result.speed) == 1 and result.speed[0]["max_metric_difference"] < 1e-12
    data = json.loads(json.dumps(result.to_json()))
    assert [row["model"] for row in data["rows"]] == list(result.table.index)
    assert compare_runs(data, data) == []
    changed = json.loads(json.dumps(data))
    changed["rows"][1]["Recall@20"] += 0.001
    assert compare_runs(changed, data) == [
        f"two-tower Recall@20: {data['rows'][1]['Recall@20']:.4f} -> {changed['rows'][1]['Recall@20']:.4f}"]
    text = format_markdown(result)
    assert "| MostPop (numpy) | reference: numpy |" in text and "QUICK run" in text
    assert "full-ranking evaluation" in text


class _Args:
    data_dir = "data/ml-latest-small"
    models = None
    references = None
    seed = 0
    quick = True
    compare = None

    def __init__(self, **kw):
        self.__dict__.update(kw)


def test_unknown_model_is_refused_before_training(tmp_path, capsys):
    assert main_bench(_Args(models=["Two-Tower", "SVD++"], references=[], output=str(tmp_path / "out"))) == 2
    out = capsys.readouterr().out
    assert "unknown models ['SVD++']" in out and "GraphSAGE" in out
    assert not (tmp_path / "out").exists()


def test_non_empty_output_folder_is_refused(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("user data")
    assert main_bench(_Args(models=[], references=[], output=str(tmp_path))) == 2
    assert "not empty" in capsys.readouterr().out
    assert (tmp_path / "keep.txt").read_text() == "user data"


def test_missing_reference_library_names_the_package_before_training(synthetic_movielens, monkeypatch):
    import importlib.util

    from recnotes.bench.references import MissingReference

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "implicit" else real(name, *a))
    trained = []
    with pytest.raises(MissingReference, match="'implicit'.*requirements-bench.txt"):
        run_bench(synthetic_movielens, models=["two-tower"], references=["implicit ALS"], quick=True,
                  log=trained.append)
    assert trained == []  # nothing was loaded or trained
