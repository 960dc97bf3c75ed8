"""The main job, ``python -m recnotes run``: parameters, papermill, summary, failures."""

import hashlib
import json
import pathlib
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from conftest import ROOT
from recnotes.runner import ParameterError, find_notebooks, notebook_parameters, parse_parameters

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def run_cli(*args, cwd=ROOT):
    return subprocess.run(
        [sys.executable, "-m", "recnotes", "run", *args], cwd=cwd, capture_output=True, text=True, timeout=900
    )


def write_notebook(path, params_source, *sources):
    cells = [new_code_cell(params_source, metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(s) for s in sources]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_has_exactly_one_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code"
    assert notebook_parameters(path)  # it declares at least one literal parameter


def test_quickstart_declares_the_documented_parameters():
    params = notebook_parameters(ROOT / "notebooks" / "00_quickstart.ipynb")
    assert {"data_dir", "seed", "epochs", "batch_size", "embedding_dim", "k"} <= set(params)


def test_parameters_are_checked_before_any_kernel(tmp_path):
    nb = write_notebook(tmp_path / "a.ipynb", 'data_dir = "x"\nepochs = 3\nlr = 0.1\nks = [10, 20]\nflag = False\nanything = None')
    with pytest.raises(ParameterError, match="unknown parameter 'epoch'; the selected notebooks take: anything, data_dir, epochs, flag, ks, lr"):
        parse_parameters([("epoch", "3")], [nb])
    with pytest.raises(ParameterError, match=r"parameter epochs='three': expected int like the default 3 in a.ipynb, got str"):
        parse_parameters([("epochs", "three")], [nb])
    with pytest.raises(ParameterError, match="parameter epochs='2.5': expected int"):
        parse_parameters([("epochs", "2.5")], [nb])
    with pytest.raises(ParameterError, match="parameter ks='10': expected list"):
        parse_parameters([("ks", "10")], [nb])
    values = parse_parameters(
        [("epochs", "5"), ("lr", "1"), ("ks", "[1, 3]"), ("data_dir", "123"), ("flag", "True"), ("anything", "{'a': 1}")], [nb]
    )[nb]
    assert values == {"epochs": 5, "lr": 1.0, "ks": [1, 3], "data_dir": "123", "flag": True, "anything": {"a": 1}}
    assert type(values["lr"]) is float and type(values["ks"]) is list


def test_notebook_without_parameters_cell_is_refused(tmp_path):
    nb = tmp_path / "plain.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("x = 1")]), nb)
    with pytest.raises(ParameterError, match="expected exactly one cell tagged 'parameters', found 0"):
        parse_parameters([], [nb])


def test_notebook_selection(tmp_path):
    for name in ("00_a", "01_b", "01_c"):
        write_notebook(tmp_path / f"{name}.ipynb", "x = 1")
    assert [p.stem for p in find_notebooks((), tmp_path)] == ["00_a", "01_b", "01_c"]
    assert [p.stem for p in find_notebooks(("00",), tmp_path)] == ["00_a"]
    assert [p.stem for p in find_notebooks(("01_c.ipynb",), tmp_path)] == ["01_c"]
    with pytest.raises(ParameterError, match="'01' matches several"):
        find_notebooks(("01",), tmp_path)
    with pytest.raises(ParameterError, match="'zz' matches no notebook; notebooks in .*: 00_a, 01_b, 01_c"):
        find_notebooks(("zz",), tmp_path)


def test_cli_refuses_unknown_parameter_without_starting_a_kernel(tmp_path):
    result = run_cli("00_quickstart", "-p", "epoch", "2", "-o", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "error: unknown parameter 'epoch'" in result.stderr
    assert not (tmp_path / "out").exists()


def test_values_passed_are_values_used_and_lists_stay_lists(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_notebook(
        folder / "echo.ipynb",
        "ks = [10]\nname = 'default'\nrate = 0.5",
        "from recnotes.report import record_metrics\n"
        "assert isinstance(ks, list), type(ks)\n"
        "record_metrics('echo', {'n_ks': len(ks), 'sum_ks': sum(ks), 'rate': rate, 'name_len': len(name)})",
    )
    result = run_cli("--notebook-dir", str(folder), "-p", "ks", "[1, 3]", "-p", "name", "abc", "-p", "rate", "2", "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    entry = summary["notebooks"][0]
    assert entry["status"] == "ok"
    assert entry["metrics"] == {"echo": {"n_ks": 2.0, "sum_ks": 4.0, "rate": 2.0, "name_len": 3.0}}
    assert json.loads((tmp_path / "out" / "echo.metrics.json").read_text()) == entry["metrics"]
    assert "| echo | ok |" in (tmp_path / "out" / "summary.md").read_text()
    assert "n_ks 2.0000, name_len 3.0000, rate 2.0000, sum_ks 4.0000" in (tmp_path / "out" / "summary.md").read_text()


def test_failure_names_notebook_and_cell_and_exits_nonzero(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_notebook(folder / "ok.ipynb", "x = 1", "y = x + 1")
    write_notebook(folder / "broken.ipynb", "x = 1", "y = x + 1", "# a comment\nraise RuntimeError('boom in cell three')")
    result = run_cli("--notebook-dir", str(folder), "-o", str(tmp_path / "out"))
    assert result.returncode == 1
    assert "FAILED: " in result.stderr and "broken.ipynb, cell In [3]: RuntimeError: boom in cell three" in result.stderr
    assert "(cell starting \"raise RuntimeError('boom in cell three')\")" in result.stderr
    assert not (tmp_path / "out" / "broken.metrics.json").exists()  # nothing recorded, no empty file
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [(n["notebook"].split("/")[-1], n["status"]) for n in summary["notebooks"]] == [("broken.ipynb", "failed"), ("ok.ipynb", "ok")]
    assert "| broken | failed |" in (tmp_path / "out" / "summary.md").read_text()


def test_refuses_to_write_over_the_source_notebooks(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    write_notebook(folder / "a.ipynb", "x = 1")
    result = run_cli("--notebook-dir", str(folder), "-o", str(folder))
    assert result.returncode == 2 and "refusing to overwrite the source notebook" in result.stderr


def test_quickstart_on_tiny_synthetic_data_through_papermill(tmp_path, synthetic_movielens):
    source = ROOT / "notebooks" / "00_quickstart.ipynb"
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    data_before = hashlib.sha256((synthetic_movielens / "ratings.csv").read_bytes()).hexdigest()
    out = tmp_path / "run"
    result = run_cli(
        "00_quickstart", "-p", "data_dir", str(synthetic_movielens), "-p", "epochs", "2",
        "-p", "batch_size", "64", "-p", "embedding_dim", "8", "-p", "k", "5", "-o", str(out),
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    metrics = summary["notebooks"][0]["metrics"]
    assert set(metrics) == {"MostPop", "TwoTower", "TwoTower training"}
    assert "Recall@5" in metrics["MostPop"] and 0 <= metrics["TwoTower"]["Recall@5"] <= 1
    executed = nbformat.read(out / "00_quickstart.ipynb", as_version=4)
    text = "".join(o.get("text", "") for c in executed.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert f"path='{synthetic_movielens}'" in text  # the value passed in is the value used
    assert "ratings per user: min" in text and "after 2 epochs of batch 64, dim 8" in text
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before  # source notebook untouched
    assert hashlib.sha256((synthetic_movielens / "ratings.csv").read_bytes()).hexdigest() == data_before


def test_unreadable_notebooks_and_bad_parameter_cells_are_refused(tmp_path):
    bad_json = tmp_path / "bad.ipynb"
    bad_json.write_text("{not json")
    with pytest.raises(ParameterError, match="bad.ipynb: not a readable notebook"):
        parse_parameters([], [bad_json])
    syntax = write_notebook(tmp_path / "syntax.ipynb", "epochs = = 3")
    with pytest.raises(ParameterError, match="syntax.ipynb: the 'parameters' cell is not valid Python \\(line 1"):
        parse_parameters([], [syntax])
    nb = write_notebook(tmp_path / "a.ipynb", "ks = [1]")
    with pytest.raises(ParameterError, match="parameter ks='\\{\\[1\\]: 2\\}': expected list"):
        parse_parameters([("ks", "{[1]: 2}")], [nb])


def test_existing_output_folder_and_name_clashes_are_refused(tmp_path):
    from recnotes.runner import run_notebooks

    for sub in ("x", "y"):
        (tmp_path / sub).mkdir()
        write_notebook(tmp_path / sub / "same.ipynb", "a = 1")
    nbs = [tmp_path / "x" / "same.ipynb", tmp_path / "y" / "same.ipynb"]
    with pytest.raises(ParameterError, match="several selected notebooks are named same.ipynb"):
        run_notebooks(nbs, {}, tmp_path / "out")
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "old.json").write_text("{}")
    with pytest.raises(ParameterError, match="output folder .*used exists and is not empty"):
        run_notebooks(nbs[:1], {}, tmp_path / "used")
    assert (tmp_path / "used" / "old.json").read_text() == "{}"


def test_compare_with_saved_checks_quality_metrics_only():
    from recnotes.runner import compare_with_saved

    saved = {"MostPop": {"Recall@20": 0.06501, "NDCG@20": 0.0571, "examples_per_second": 1000.0}}
    same = {"MostPop": {"Recall@20": 0.06504, "NDCG@20": 0.0571, "examples_per_second": 2500.0}}  # 0.0650 both
    assert compare_with_saved(same, saved) == []
    drift = {"MostPop": {"Recall@20": 0.0652, "NDCG@20": 0.0571}, "TwoTower": {"AUC": 0.9}}
    assert compare_with_saved(drift, saved) == [
        "MostPop Recall@20: saved 0.0650, this run 0.0652",
        "TwoTower AUC: only in the run",
    ]


def test_default_runs_are_compared_with_the_saved_notebook(tmp_path):
    from recnotes.report import METRICS_MIME

    folder = tmp_path / "nbs"
    folder.mkdir()
    for name, computed, saved in (("same", 0.25, 0.25), ("drift", 0.3, 0.2)):
        path = write_notebook(folder / f"{name}.ipynb", "k = 20",
                              f"from recnotes.report import record_metrics\nrecord_metrics('m', {{'Recall@20': {computed}}})")
        nb = nbformat.read(path, as_version=4)  # as if saved after a run that recorded `saved`
        nb.cells[1].outputs = [nbformat.v4.new_output(
            "display_data", data={"text/plain": "m", METRICS_MIME: {"name": "m", "metrics": {"Recall@20": saved}}})]
        nbformat.write(nb, path)
    result = run_cli("--notebook-dir", str(folder), "-o", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "Reproducibility: 1 of 2 notebooks run with their default parameters repeat" in summary
    assert "- drift: m Recall@20: saved 0.2000, this run 0.3000" in summary
    assert "another CPU or TensorFlow build" in summary  # where differences can come from
    entries = {pathlib.Path(n["notebook"]).stem: n for n in json.loads((tmp_path / "out" / "summary.json").read_text())["notebooks"]}
    assert entries["same"]["saved_differences"] == [] and len(entries["drift"]["saved_differences"]) == 1
