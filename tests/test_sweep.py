"""Parameter sweeps through papermill (and in-process functions): grid, checks, failures, table."""

import subprocess
import sys

import pandas as pd
import pytest

from conftest import ROOT
from recnotes.runner import ParameterError
from recnotes.sweep import grid_points, sweep
from test_runner import write_notebook

RECORD = (
    "from recnotes.report import record_metrics\n"
    "if a == 3:\n"
    "    raise ValueError('a = 3 is not allowed')\n"
    "record_metrics('toy', {'sum': a + b, 'product': a * b})"
)


@pytest.fixture
def toy_notebook(tmp_path):
    return write_notebook(tmp_path / "toy.ipynb", "a = 1\nb = 0.5\nlabel = 'x'", RECORD)


def test_grid_points_is_the_cartesian_product_in_order():
    assert grid_points({"a": [1, 2], "b": [10, 20, 30]}) == [
        {"a": 1, "b": 10}, {"a": 1, "b": 20}, {"a": 1, "b": 30},
        {"a": 2, "b": 10}, {"a": 2, "b": 20}, {"a": 2, "b": 30},
    ]
    with pytest.raises(ParameterError, match=r"grid\['a'\] is empty"):
        grid_points({"a": []})
    with pytest.raises(ParameterError, match=r"grid\['a'\] must be a list of values, got 'abc'"):
        grid_points({"a": "abc"})


def test_notebook_sweep_collects_every_point_and_keeps_failures(toy_notebook, tmp_path):
    out = tmp_path / "out"
    table = sweep(toy_notebook, {"a": [1, 3, 2], "b": [0.5, 2]}, output_dir=out, log=None)
    assert list(table.columns[:3]) == ["a", "b", "model"]
    ok = table[table.status == "ok"].set_index(["a", "b"])
    assert len(ok) == 4 and len(table) == 6
    for (a, b), row in ok.iterrows():
        assert row["sum"] == a + b and row["product"] == a * b
        assert row["model"] == "toy"
    failed = table[table.status == "failed"]
    assert sorted(failed.b) == [0.5, 2.0] and set(failed.a) == {3}
    assert failed.error.str.contains("ValueError: a = 3 is not allowed").all()
    assert failed["sum"].isna().all()
    saved = pd.read_csv(out / "sweep.csv")
    assert len(saved) == 6 and sorted(p.name for p in out.glob("point-*.ipynb")) == [f"point-00{n}.ipynb" for n in range(1, 7)]
    assert "| a | b | model |" in (out / "sweep.md").read_text()
    assert toy_notebook.read_text().count('"outputs": []') >= 2  # the source notebook is untouched


def test_bad_names_and_types_fail_before_anything_runs(toy_notebook, tmp_path):
    out = tmp_path / "never"
    with pytest.raises(ParameterError, match="'c' is not a parameter of toy.ipynb; its parameters cell declares: a, b, label"):
        sweep(toy_notebook, {"a": [1], "c": [2]}, output_dir=out)
    with pytest.raises(ParameterError, match=r"parameter a='1': expected int like the default 1 in toy.ipynb, got str"):
        sweep(toy_notebook, {"a": [2, "1"]}, output_dir=out)
    with pytest.raises(ParameterError, match="given both as fixed parameters and in the grid"):
        sweep(toy_notebook, {"a": [2]}, parameters={"a": 1}, output_dir=out)
    with pytest.raises(ParameterError, match="needs output_dir"):
        sweep(toy_notebook, {"a": [2]})
    assert not out.exists()
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("user data")
    with pytest.raises(ParameterError, match="exists and is not empty"):
        sweep(toy_notebook, {"a": [2]}, output_dir=tmp_path / "full")
    assert (tmp_path / "full" / "keep.txt").read_text() == "user data"


def test_function_sweep_runs_in_process():
    def score(x, y, scale=1.0):
        if x < 0:
            raise ValueError("negative x")
        return {"value": scale * (x + y)}

    table = sweep(score, {"x": [1, -1, 2], "y": [10]}, parameters={"scale": 2.0}, log=None)
    assert table.loc[table.status == "ok", "value"].tolist() == [22.0, 24.0]
    assert table.loc[1, "status"] == "failed" and "ValueError: negative x" in table.loc[1, "error"]
    with pytest.raises(ParameterError, match="'z' is not a parameter of score"):
        sweep(score, {"z": [1]})


def test_cli_sweep_writes_table_and_exit_status(toy_notebook, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "recnotes", "sweep", *args], cwd=ROOT, capture_output=True, text=True, timeout=300)

    bad = cli(str(toy_notebook), "-g", "aa", "1", "-o", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "'aa' is not a parameter of toy.ipynb" in bad.stderr
    done = cli(str(toy_notebook), "-g", "a", "1", "3", "-p", "b", "2", "-p", "label", "y", "-o", str(tmp_path / "cli"))
    assert done.returncode == 1  # one point failed; the other is in the table
    table = pd.read_csv(tmp_path / "cli" / "sweep.csv")
    assert table.status.tolist() == ["ok", "failed"] and table["sum"].iloc[0] == 3.0


def test_function_sweep_checks_and_table_hygiene(tmp_path):
    import numpy as np

    def needs_y(x, y):
        return {"value": x * y}

    with pytest.raises(ParameterError, match=r"needs_y\(x, y\) cannot be called with \['x'\]"):
        sweep(needs_y, {"x": [1]})  # y missing: refused before any point runs
    table = sweep(needs_y, {"x": np.arange(1, 3), "y": (v for v in [10])}, log=None)  # numpy values, a generator
    assert table["value"].tolist() == [10.0, 20.0] and table.x.tolist() == [1, 2]

    def clashing(x):
        return {"x": 99.0, "status": 1.0, "ok_metric": 1.0} if x == 1 else {"ok_metric": 2.0}

    table = sweep(clashing, {"x": [1, 2]}, log=None)
    assert table.x.tolist() == [1, 2]  # the swept value is never overwritten
    assert table.status.tolist() == ["failed", "ok"]
    assert "collide with the table's columns" in table.error[0]

    def odd(kind):
        return {"empty": {}, "text": {"m": "0.25"}, "inf": {"m": float("inf")}, "good": {"m": 0.5}}[kind]

    table = sweep(odd, {"kind": ["empty", "text", "inf", "good"]}, log=None)
    assert table.status.tolist() == ["failed", "failed", "failed", "ok"]
    assert "no metrics" in table.error[0] and "not a number" in table.error[1] and "not finite" in table.error[2]


def test_interrupted_sweep_keeps_finished_points(tmp_path):
    def stop_at_two(x):
        if x == 2:
            raise KeyboardInterrupt
        return {"value": float(x)}

    with pytest.raises(KeyboardInterrupt):
        sweep(stop_at_two, {"x": [1, 2, 3]}, output_dir=tmp_path / "out", log=None)
    saved = pd.read_csv(tmp_path / "out" / "sweep.csv")
    assert saved.x.tolist() == [1] and saved["value"].tolist() == [1.0]


def test_failed_notebook_point_keeps_metrics_recorded_before_the_error(tmp_path):
    nb = write_notebook(
        tmp_path / "late.ipynb", "a = 1",
        "from recnotes.report import record_metrics\nrecord_metrics('m', {'x': a})",
        "if a == 2:\n    raise ValueError('late failure\\nsecond line | pipe')",
    )
    table = sweep(nb, {"a": [1, 2]}, output_dir=tmp_path / "out", log=None)
    assert table.status.tolist() == ["ok", "failed"] and table.x.tolist() == [1.0, 2.0]
    lines = (tmp_path / "out" / "sweep.md").read_text().splitlines()
    assert len(lines) == 4  # header, rule, one line per point: the newline in the error is flattened


def test_cli_keeps_text_values_as_typed_and_refuses_repeated_names(tmp_path):
    nb = write_notebook(tmp_path / "text.ipynb", "version = 'x'\nn = 1",
                        "from recnotes.report import record_metrics\nrecord_metrics('m', {'length': len(version)})")

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "recnotes", "sweep", str(nb), *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)

    twice = cli("-g", "n", "1", "-g", "n", "2", "-o", str(tmp_path / "a"))
    assert twice.returncode == 2 and "-g n is given twice" in twice.stderr
    done = cli("-g", "version", "1.10", "0x1F", "-o", str(tmp_path / "b"))
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "b" / "sweep.csv", dtype={"version": str})
    assert table.version.tolist() == ["1.10", "0x1F"] and table.length.tolist() == [4, 4]
