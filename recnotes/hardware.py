"""What hardware training runs on, and how busy the GPU is while it runs.

* :func:`device_report` — the devices TensorFlow sees and, where an NVIDIA
  GPU and ``nvidia-smi`` exist, each GPU's utilization and memory; on a
  CPU-only machine a one-line message, never an exception.
* :func:`parse_nvidia_smi` — the CSV that
  ``nvidia-smi --query-gpu=... --format=csv`` prints, as a DataFrame.
* :func:`sample_gpu_utilization` — run a function (e.g. ``model.fit``) while
  a background thread records GPU utilization every ``interval`` seconds.

Reading it: utilization.gpu is the share of time a kernel was running on the
GPU.  Low utilization during training means the GPU waits — usually for the
input pipeline (see :func:`recnotes.pipeline.diagnose_pipeline`) or for tiny
kernels launched one by one (larger batches, ``steps_per_execution``, XLA).
"""

from __future__ import annotations

import dataclasses
import io
import shutil
import subprocess
import threading
import time

import pandas as pd

__all__ = ["QUERY_FIELDS", "parse_nvidia_smi", "query_gpus", "device_report", "DeviceReport", "sample_gpu_utilization"]

QUERY_FIELDS = ("index", "name", "utilization.gpu", "utilization.memory", "memory.used", "memory.total")


def parse_nvidia_smi(text: str) -> pd.DataFrame:
    """Parse ``nvidia-smi --query-gpu=<fields> --format=csv`` output (header line included).

    Units in the header (``utilization.gpu [%]``, ``memory.used [MiB]``) are
    moved into the column names (``utilization.gpu_%``, ``memory.used_MiB``)
    and stripped from the values, which become numbers; ``[N/A]`` and
    ``[Not Supported]`` become NaN.
    """
    if not text.strip():
        raise ValueError("nvidia-smi printed nothing; expected a CSV header line and one line per GPU")
    raw = pd.read_csv(io.StringIO(text), skipinitialspace=True, dtype=str)
    renamed = {}
    for column in raw.columns:
        name, _, unit = column.strip().partition(" [")
        renamed[column] = f"{name}_{unit.rstrip(']')}" if unit else name
    frame = raw.rename(columns=renamed)
    for column in frame.columns:
        values = frame[column].str.strip()
        unit = column.rpartition("_")[2] if "_" in column else ""
        if unit:
            values = values.str.replace(f" {unit}", "", regex=False)
        numbers = pd.to_numeric(values.where(~values.str.startswith("["), None), errors="coerce")
        frame[column] = numbers if numbers.notna().any() or values.str.startswith("[").all() else values
    return frame


def query_gpus(fields=QUERY_FIELDS, run=subprocess.run) -> pd.DataFrame | None:
    """One ``nvidia-smi`` query as a DataFrame, or ``None`` without nvidia-smi."""
    if run is subprocess.run and shutil.which("nvidia-smi") is None:
        return None
    result = run(
        ["nvidia-smi", f"--query-gpu={','.join(fields)}", "--format=csv"],
        capture_output=True, text=True, timeout=20,
    )
    if result.returncode != 0:
        return None
    return parse_nvidia_smi(result.stdout)


@dataclasses.dataclass
class DeviceReport:
    """Devices TensorFlow sees, and the GPUs' state (``gpus`` is None without nvidia-smi)."""

    tensorflow_devices: list[str]
    gpus: pd.DataFrame | None
    message: str

    def __repr__(self) -> str:
        return self.message


def device_report(run=subprocess.run) -> DeviceReport:
    """Devices and, on NVIDIA machines, GPU utilization and memory (see module doc)."""
    import tensorflow as tf

    devices = [f"{d.device_type}:{d.name.rsplit(':', 1)[-1]}" for d in tf.config.list_physical_devices()]
    gpus = query_gpus(run=run)
    if gpus is None or gpus.empty:
        message = f"No NVIDIA GPU (nvidia-smi not found or failed); TensorFlow sees: {', '.join(devices)}"
    else:
        rows = [
            f"GPU {int(r['index'])} {r['name']}: {r['utilization.gpu_%']:.0f}% busy, "
            f"{r['memory.used_MiB']:,.0f} / {r['memory.total_MiB']:,.0f} MiB"
            for _, r in gpus.iterrows()
        ]
        message = f"TensorFlow sees: {', '.join(devices)}\n" + "\n".join(rows)
    return DeviceReport(devices, gpus, message)


def sample_gpu_utilization(fn, interval: float = 0.5, query=query_gpus):
    """Run ``fn()`` while sampling GPUs every ``interval`` s; return ``(fn(), samples)``.

    ``samples`` has a ``seconds`` column (since start) plus the query's
    columns, one row per GPU per sample; it is empty on a machine without
    nvidia-smi.
    """
    samples, stop = [], threading.Event()
    start = time.perf_counter()

    def poll():
        while not stop.is_set():
            frame = query()
            if frame is None:
                return
            samples.append(frame.assign(seconds=round(time.perf_counter() - start, 3)))
            stop.wait(interval)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        result = fn()
    finally:
        stop.set()
        thread.join()
    return result, (pd.concat(samples, ignore_index=True) if samples else pd.DataFrame(columns=["seconds"]))
