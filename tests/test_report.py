import numpy as np
import pandas as pd
import pytest

from recnotes.report import METRICS_MIME, flatten_metrics, record_metrics


def test_flatten_metrics_from_table_and_dict():
    table = pd.DataFrame({"Recall": [0.1, 0.2], "NDCG": [0.05, 0.07], "AUC": [0.8, 0.8]}, index=pd.Index([10, 20], name="K"))
    assert flatten_metrics(table) == {"Recall@10": 0.1, "NDCG@10": 0.05, "AUC": 0.8, "Recall@20": 0.2, "NDCG@20": 0.07}
    assert flatten_metrics({"examples_per_second": 12}) == {"examples_per_second": 12.0}
    with pytest.raises(ValueError, match="metric 'x' is NaN"):
        flatten_metrics({"x": np.nan})
    with pytest.raises(TypeError, match="DataFrame indexed by K or a dict"):
        flatten_metrics([1, 2])


def test_record_metrics_displays_a_tagged_bundle(monkeypatch):
    shown = []
    import IPython.display

    monkeypatch.setattr(IPython.display, "display", lambda obj, raw=False: shown.append(obj))
    record_metrics("MostPop", {"Recall@20": 0.064999})
    assert shown == [{"text/plain": "MostPop: Recall@20=0.065", METRICS_MIME: {"name": "MostPop", "metrics": {"Recall@20": 0.065}}}]
