import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from conftest import frame  # noqa: E402
from recnotes import plotting  # noqa: E402

ROWS = frame([(1, 10, 100), (1, 20, 200), (2, 10, 300), (3, 10, 400), (3, 30, 500)])
ROWS["rating"] = [4.0, 4.0, 2.5, 5.0, 4.0]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_rating_distribution_bars_are_the_counts():
    ax = plotting.plot_rating_distribution(ROWS)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["2.5", "4.0", "5.0"]
    assert [p.get_height() for p in ax.patches] == [1, 3, 1]


def test_item_popularity_curve_is_the_sorted_counts():
    ax = plotting.plot_item_popularity(ROWS)
    x, y = ax.lines[0].get_data()
    assert list(x) == [1, 2, 3] and list(y) == [3, 1, 1]


def test_interactions_over_time_counts_per_quarter():
    rows = frame([(1, 1, 0), (1, 2, 86_400), (1, 3, 100 * 86_400)])  # Jan 1, Jan 2, Apr 11 1970
    ax = plotting.plot_interactions_over_time(rows, cutoffs=[("cut", 50 * 86_400)])
    assert [p.get_height() for p in ax.patches] == [2, 1]
    assert len(ax.lines) == 1  # the cut-off line


def test_history_and_comparison_plots_show_the_values():
    ax = plotting.plot_history({"loss": [3.0, 2.0], "val_loss": [3.5, 2.5]})
    assert [list(line.get_ydata()) for line in ax.lines] == [[3.0, 2.0], [3.5, 2.5]]
    tables = {m: pd.DataFrame({"Recall": v}, index=pd.Index([10, 20], name="K")) for m, v in {"A": [0.1, 0.2], "B": [0.3, 0.4]}.items()}
    ax = plotting.plot_metric_comparison(tables, "Recall")
    np.testing.assert_allclose(sorted(p.get_height() for p in ax.patches), [0.1, 0.2, 0.3, 0.4])


def test_landscape_draws_each_trajectory_from_start_to_end():
    from recnotes.optimization import convex_bowl, optimizer_trajectory

    paths = [optimizer_trajectory(convex_bowl, [2.0, 1.0], "sgd", 0.1, 5), optimizer_trajectory(convex_bowl, [-2.0, 1.0], "adam", 0.1, 5)]
    ax = plotting.plot_landscape(convex_bowl, paths, bounds=(-3, 3, -2, 2), resolution=20)
    lines = [line for line in ax.lines if len(line.get_xdata()) == 6]
    assert len(lines) == 2
    np.testing.assert_allclose(lines[0].get_xydata(), paths[0].points)
    assert ax.get_legend_handles_labels()[1] == ["sgd (lr 0.1)", "adam (lr 0.1)"]


def test_sweep_heatmap_cells_are_the_table_values_and_failures_blank():
    table = pd.DataFrame({"lr": [0.1, 0.1, 1.0, 1.0], "batch": [8, 16, 8, 16], "recall": [0.1, 0.2, 0.3, np.nan],
                          "status": ["ok", "ok", "ok", "failed"]})
    ax = plotting.plot_sweep_heatmap(table, "lr", "batch", "recall", fmt=".2f")
    assert sorted(t.get_text() for t in ax.texts) == ["0.10", "0.20", "0.30"]  # the failed cell has no annotation


def test_lr_range_test_plot_uses_the_recorded_rates_and_losses():
    from recnotes.training import LearningRateRangeTest

    test = LearningRateRangeTest(0.01, 1.0, num_steps=5)
    test.learning_rates = [0.01, 0.03, 0.1, 0.3, 1.0]
    test.losses = [5.0, 4.0, 2.0, 3.0, 9.0]
    test.smoothed = [5.0, 4.5, 3.5, 3.4, 5.0]
    ax = plotting.plot_lr_range_test(test)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), test.losses)
    np.testing.assert_allclose(ax.lines[1].get_xdata(), test.learning_rates)
    assert ax.get_xscale() == "log"
