"""recnotes.scale and ``python -m recnotes scale``: sizes, ratios and the written table."""

import json

import pytest

from recnotes.__main__ import main
from recnotes.scale import COLUMNS, format_size, measure, parse_size, run_scale, scale_markdown, with_ratios
from recnotes.synthetic import write_synthetic_movielens


@pytest.mark.parametrize(
    "text, n", [("100k", 100_000), ("1M", 1_000_000), ("10m", 10_000_000), ("2.5M", 2_500_000), ("1.1M", 1_100_000), ("5000", 5000), (42, 42)]
)
def test_parse_size(text, n):
    assert parse_size(text) == n


@pytest.mark.parametrize("text", ["", "1.5", "10x", "-5", "0", "1e6", True, "0.0001k"])
def test_parse_size_refuses_what_is_not_a_count(text):
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


def test_format_size_is_the_short_label():
    assert [format_size(n) for n in (100_000, 1_000_000, 10_000_000, 1_500_000, 5_000, 2_500, 123_456)] == [
        "100k", "1M", "10M", "1.5M", "5k", "2.5k", "123456"
    ]


def test_ratios_are_time_per_interaction_relative_to_the_smallest():
    results = [
        {"label": "big", "interactions": 1000, "load_s": 20.0, "split_s": 5.0, "steady_examples_per_s": 50.0},
        {"label": "small", "interactions": 100, "load_s": 1.0, "split_s": 1.0, "steady_examples_per_s": 100.0},
        {"label": "broken", "status": "failed", "error": "killed"},
    ]
    with_ratios(results)
    big, small, broken = results
    assert (small["load_ratio"], small["split_ratio"], small["epoch_ratio"]) == (1.0, 1.0, 1.0)
    assert big["load_ratio"] == pytest.approx(2.0)  # 20 ms vs 10 ms per interaction
    assert big["split_ratio"] == pytest.approx(0.5)
    assert big["epoch_ratio"] == pytest.approx(2.0)  # half the rows per second
    assert "load_ratio" not in broken
    text = scale_markdown(results, {"created": "now", "machine": "here", "settings": "these"})
    assert "| broken | failed: killed |" in text


def test_measure_runs_every_stage_in_this_process(tmp_path):
    lines = []
    result = measure(tmp_path / "ml-2k", generate_rows=2_000, seed=3, log=lines.append)
    assert [line.split(":")[1].split()[0] for line in lines] == ["generate", "load", "split", "evaluator", "fit", "epoch"]
    assert result["interactions"] == 2_000 and result["users"] == 13 and result["vectorized_input"] is False
    assert result["sparse_optimizer"] is False
    assert result["train_rows"] == pytest.approx(1_600, rel=0.03)
    assert result["examples_per_s"] == pytest.approx(result["train_rows"] / result["epoch_s"])
    assert result["steady_examples_per_s"] > 0 and result["train_loss"] > 0
    assert result["generate_peak_mib"] <= result["data_peak_mib"] <= result["peak_mib"]


def test_scale_command_writes_one_row_per_size(tmp_path, capsys):
    # One generated size and one --data-dir folder, each in its own process (about 20 s on 2 cores).
    real = write_synthetic_movielens(tmp_path / "ml-tiny", 3_000, seed=1).path
    out = tmp_path / "out"
    assert main(["scale", "--sizes", "4k", "--data-dir", str(real), "-o", str(out), "--vectorized-input",
                 "--sparse-optimizer"]) == 0
    printed = capsys.readouterr().out
    assert "[1/2] 4k: 4,000 synthetic interactions" in printed and "[2/2] ml-tiny" in printed
    table = (out / "scale.md").read_text().splitlines()
    header = next(line for line in table if line.startswith("| size"))
    assert header == "| " + " | ".join(COLUMNS) + " |"
    rows = [line for line in table if line.startswith("| 4k") or line.startswith("| ml-tiny")]
    assert len(rows) == 2 and all(len(r.split("|")) == len(COLUMNS) + 2 for r in rows)
    written = json.loads((out / "scale.json").read_text())
    assert "vectorized input" in written["settings"] and "SparseAdagrad" in written["settings"]
    results = written["results"]
    generated, given = results
    assert generated["vectorized_input"] is given["vectorized_input"] is True
    assert generated["sparse_optimizer"] is given["sparse_optimizer"] is True
    assert generated["status"] == given["status"] == "ok"
    assert (generated["interactions"], given["interactions"]) == (4_000, 3_000)
    assert generated["train_rows"] == pytest.approx(3_200, rel=0.02)
    assert generated["generate_s"] > 0 and "generate_s" not in given
    for r in results:
        assert r["epoch_s"] > 0 and r["examples_per_s"] == pytest.approx(r["train_rows"] / r["epoch_s"])
        assert r["data_peak_mib"] > 50 and r["peak_mib"] >= r["data_peak_mib"]
    assert given["load_ratio"] == 1.0  # the smallest size is the reference
    assert not (out / "data").exists()  # generated data are removed unless --keep-data
    assert (real / "ratings.csv").is_file()  # a given folder is only read


def test_bad_requests_are_refused_before_anything_runs(tmp_path, capsys):
    assert main(["scale", "--sizes", "10x", "-o", str(tmp_path / "a")]) == 2
    assert "size '10x'" in capsys.readouterr().err
    assert main(["scale", "--data-dir", str(tmp_path), "-o", str(tmp_path / "b")]) == 2
    assert "no ratings.csv there" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert main(["scale", "--sizes", "1k", "-o", str(tmp_path / "full")]) == 2
    assert "must be new or empty" in capsys.readouterr().err
    with pytest.raises(ValueError, match="sizes repeat a value"):
        run_scale(["1k", "1000"], output_dir=tmp_path / "c")
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()


def test_more_bad_requests_are_refused_before_anything_runs(tmp_path, capsys):
    real = write_synthetic_movielens(tmp_path / "a" / "ml", 100, seed=1).path
    twin = write_synthetic_movielens(tmp_path / "b" / "ml", 100, seed=2).path
    cases = [
        (["--sizes", "10", "224"], "size(s) ['10', '224'] below 225 interactions: there the synthetic generator "
                                   "writes a single user"),
        (["--sizes", "1k", "--seed", "-1"], "seed must be an integer in [0, 2**32 - 1], got -1"),
        (["--sizes", "1k", "--embedding-dim", "0"], "embedding_dim must be a positive integer, got 0"),
        (["--sizes", "1k", "--batch-size", "1"], "batch_size must be an integer >= 2 (in-batch negatives need other rows)"),
        (["--data-dir", str(real), "--data-dir", str(real)], "--data-dir repeats a folder"),
        (["--data-dir", str(real), "--data-dir", str(twin)], "two rows would have the same label ['ml']"),
    ]
    for i, (argv, message) in enumerate(cases):
        assert main(["scale", *argv, "-o", str(tmp_path / f"out{i}")]) == 2
        err = capsys.readouterr().err
        assert message in err, err
        assert not (tmp_path / f"out{i}").exists()
    assert "batch_size" not in cases[2][1]  # each message names its own rule


def test_min_size_is_the_first_with_two_users():
    from recnotes.scale import MIN_SIZE
    from recnotes.synthetic import default_n_users

    assert default_n_users(MIN_SIZE - 1) == 1 and default_n_users(MIN_SIZE) == 2


def test_scale_json_is_strict_json_and_the_table_leaves_non_finite_values_blank(tmp_path):
    from recnotes.scale import _write

    result = {"label": "20", "interactions": 20, "train_rows": 16, "steady_examples_per_s": float("nan"),
              "epoch_ratio": float("inf"), "status": "ok"}
    meta = {"created": "now", "machine": "here", "settings": "these"}
    _write(tmp_path, [result], meta)

    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant}")

    written = json.loads((tmp_path / "scale.json").read_text(), parse_constant=refuse)
    assert written["results"][0]["steady_examples_per_s"] is None and written["results"][0]["epoch_ratio"] is None
    assert written["results"][0]["train_rows"] == 16
    row = next(line for line in (tmp_path / "scale.md").read_text().splitlines() if line.startswith("| 20 "))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[COLUMNS.index("steady examples/s")] == "" and cells[COLUMNS.index("epoch × smallest")] == ""
    assert cells[COLUMNS.index("train rows")] == "16"
