"""Record a notebook's headline metrics where the runner can collect them.

``record_metrics("TwoTower", table)`` shows the numbers in the notebook and
tags them with the MIME type :data:`METRICS_MIME` in the cell's output.
``python -m recnotes run`` reads these outputs from each executed notebook
and puts them in its summary; JupyterLab shows the plain-text form.
"""

from __future__ import annotations

import math

import pandas as pd

__all__ = ["METRICS_MIME", "record_metrics", "flatten_metrics"]

METRICS_MIME = "application/vnd.recnotes.metrics+json"


def flatten_metrics(values) -> dict[str, float]:
    """``{"Recall@20": 0.07, ...}`` from a metrics table (index K) or a flat dict."""
    if isinstance(values, pd.DataFrame):
        flat = {}
        for k, row in values.iterrows():
            for column, value in row.items():
                name = column if column == "AUC" else f"{column}@{k}"
                flat[name] = float(value)
        return flat
    if isinstance(values, dict):
        flat = {}
        for key, value in values.items():
            number = float(value)
            if math.isnan(number):
                raise ValueError(f"metric {key!r} is NaN")
            flat[str(key)] = number
        return flat
    raise TypeError(f"values must be a DataFrame indexed by K or a dict of numbers, got {type(values).__name__}")


def record_metrics(name: str, values, digits: int = 4) -> None:
    """Show ``values`` under ``name`` and tag them for the runner's summary.

    Args:
      name: the model or experiment, e.g. ``"MostPop"``.
      values: a metrics table indexed by K (from
        :meth:`~recnotes.evaluation.FullRankingEvaluator.evaluate`) or a dict
        of name -> number (e.g. ``{"examples_per_second": 45000}``).
      digits: rounding of the printed and recorded values.

    Raises:
      ValueError: if a value is NaN.
    """
    flat = {k: round(v, digits) for k, v in flatten_metrics(values).items()}
    text = f"{name}: " + ", ".join(f"{k}={v:g}" for k, v in flat.items())
    payload = {"name": str(name), "metrics": flat}
    try:
        from IPython.display import display

        display({"text/plain": text, METRICS_MIME: payload}, raw=True)
    except ImportError:  # plain Python without IPython
        print(text)
