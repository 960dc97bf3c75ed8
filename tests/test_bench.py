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


@pytest.fixture
def no_training(monkeypatch):
    """run_bench replaced by a recorder: a request refused upfront never gets there."""
    import recnotes.bench.run as bench_run

    calls = []
    monkeypatch.setattr(bench_run, "run_bench", lambda *a, **kw: calls.append(a) or pytest.fail("run_bench ran"))
    return calls


def test_unusable_output_path_is_refused_before_training(tmp_path, capsys, no_training, monkeypatch):
    import tempfile

    (tmp_path / "file").write_text("user data")
    assert main_bench(_Args(models=[], references=[], output=str(tmp_path / "file"))) == 2
    assert f"the output path {tmp_path / 'file'} exists and is not a folder" in capsys.readouterr().out
    assert (tmp_path / "file").read_text() == "user data"
    assert main_bench(_Args(models=[], references=[], output=str(tmp_path / "file" / "out"))) == 2
    assert f"cannot create the output folder {tmp_path / 'file' / 'out'}" in capsys.readouterr().out

    def unwritable(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", unwritable)
    assert main_bench(_Args(models=[], references=[], output=str(tmp_path / "new" / "out"))) == 2
    assert "cannot write in the output folder" in capsys.readouterr().out
    assert not (tmp_path / "new").exists()  # the folders it created are removed again
    assert no_training == []


@pytest.mark.parametrize(
    "old, message",
    [
        ({"results": []}, "no 'rows' key"),
        ([1, 2], "expected a JSON object with 'rows'"),
        ({"rows": [{"model": "MostPop"}]}, r"rows\[0\] \(MostPop\): no Recall@k or NDCG@k metric"),
        ({"rows": [1]}, r"rows\[0\]: expected an object"),
        ({"rows": [{"model": "A", "Recall@20": "0.1"}]}, r"Recall@20 must be a number or null, got '0.1'"),
        ({"rows": [{"Recall@20": 0.1}]}, "expected a 'model' name"),
    ],
)
def test_compare_file_of_another_shape_is_refused_at_startup(tmp_path, capsys, no_training, old, message):
    import re

    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    assert main_bench(_Args(models=[], references=[], output=str(tmp_path / "out"), compare=str(path))) == 2
    out = capsys.readouterr().out
    assert f"--compare {path}" in out and re.search(message, out), out
    assert not (tmp_path / "out").exists() and no_training == []


def test_compare_runs_reports_rows_of_one_run_and_refuses_comparing_nothing():
    row = {"model": "A", "Recall@20": 0.1, "NDCG@20": 0.05}
    new = {"machine": {"seed": 0, "quick": True}, "rows": [row, {"model": "B", "Recall@20": 0.2}]}
    old = {"machine": {"seed": 0, "quick": True}, "rows": [row, {"model": "C", "Recall@20": 0.3}]}
    assert compare_runs(new, old) == ["B: not in the old run", "C: not in the new run"]
    other = {"machine": {"seed": 1, "quick": True}, "rows": [{"model": "C", "Recall@20": 0.3}]}
    with pytest.raises(ValueError, match=r"no metric was compared.*new: \['A', 'B'\], old: \['C'\].*seed 0 \(new\) vs 1"):
        compare_runs(new, other)


def test_quick_bench_output_no_protocol_line_no_speed_verdict_and_compare_refusal(synthetic_movielens, tmp_path,
                                                                                   capsys):
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"machine": {"seed": 5, "data_dir": "elsewhere", "quick": True},
                               "rows": [{"model": "GraphSAGE", "Recall@20": 0.1}]}))
    args = _Args(data_dir=str(synthetic_movielens), models=["MostPop"], references=["MostPop (numpy)"],
                 output=str(tmp_path / "out"), compare=str(old))
    assert main_bench(args) == 1  # nothing in common: refused, not "every metric repeats"
    out = capsys.readouterr().out
    assert "no metric was compared" in out and "seed 0 (new) vs 5 (old)" in out and "data_dir" in out
    assert "every metric repeats" not in out
    text = (tmp_path / "out" / "bench.md").read_text()
    assert "References live vs the protocol's figures" not in text
    assert "The protocol's reference figures are for ml-latest-small" in text
    evaluation = next(line for line in text.splitlines() if line.startswith("| full-ranking evaluation"))
    assert evaluation.endswith("| n/a (quick run) |")
    written = json.loads((tmp_path / "out" / "bench.json").read_text())
    assert written["speed"][0]["met"] is None and written["machine"]["protocol_data"] is False


def test_protocol_figures_are_shown_for_ml_latest_small_only(synthetic_movielens):
    import pandas as pd

    from conftest import BUNDLED
    from recnotes.bench.run import BenchResult, is_protocol_data

    assert is_protocol_data(BUNDLED) and not is_protocol_data(synthetic_movielens)
    table = pd.DataFrame([{"model": "MostPop (numpy)", "source": "reference: numpy", "config": "counts",
                           **{f"{m}@{k}": 0.06 for m in ("Recall", "NDCG") for k in (10, 20, 50)},
                           "train_seconds": 0.0, "examples_per_second": float("nan"), "eval_seconds": 0.1}])
    machine = {"date": "d", "cpu_count": 2, "processor": "x", "gpus": [], "tensorflow": "t", "keras": "k",
               "seed": 0, "quick": False, "data_dir": str(BUNDLED), "protocol_data": True}
    text = format_markdown(BenchResult(table.set_index("model"), [], machine, {}))
    assert "MostPop (numpy) 0.0600 / 0.0600 (protocol 0.0650 / 0.0571)" in text


def test_feature_models_without_movies_csv_are_refused_before_training(synthetic_movielens):
    (synthetic_movielens / "movies.csv").unlink()
    log = []
    with pytest.raises(ValueError, match=r"FM needs movies.csv in .*ml-synthetic for its item features.*"
                                         r"SENet two-tower needs movies.csv"):
        run_bench(synthetic_movielens, models=["MostPop", "FM", "SENet two-tower"], references=[], quick=True,
                  log=log.append)
    assert not any("training" in line for line in log)
