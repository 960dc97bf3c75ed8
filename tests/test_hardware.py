import subprocess

import numpy as np
import pandas as pd

from recnotes.hardware import device_report, parse_nvidia_smi, query_gpus, sample_gpu_utilization

# Recorded from `nvidia-smi --query-gpu=index,name,utilization.gpu,utilization.memory,memory.used,memory.total --format=csv`
RECORDED = """index, name, utilization.gpu [%], utilization.memory [%], memory.used [MiB], memory.total [MiB]
0, NVIDIA H200, 87 %, 41 %, 30512 MiB, 143771 MiB
1, NVIDIA H200, [N/A], 0 %, 4 MiB, 143771 MiB
"""


def test_parse_recorded_nvidia_smi_output():
    frame = parse_nvidia_smi(RECORDED)
    assert list(frame.columns) == ["index", "name", "utilization.gpu_%", "utilization.memory_%", "memory.used_MiB", "memory.total_MiB"]
    assert frame["name"].tolist() == ["NVIDIA H200", "NVIDIA H200"]
    assert frame["utilization.gpu_%"].iloc[0] == 87 and np.isnan(frame["utilization.gpu_%"].iloc[1])
    assert frame["memory.used_MiB"].tolist() == [30512, 4]
    assert frame["index"].tolist() == [0, 1]


def test_report_on_a_cpu_only_machine_is_one_line():
    def no_smi(*args, **kwargs):
        return subprocess.CompletedProcess(args, 127, "", "nvidia-smi: not found")

    report = device_report(run=no_smi)
    assert report.gpus is None
    assert repr(report).startswith("No NVIDIA GPU (nvidia-smi not found or failed); TensorFlow sees: CPU:0")
    assert "\n" not in repr(report)


def test_report_with_a_gpu_uses_the_parsed_table():
    def fake_smi(*args, **kwargs):
        return subprocess.CompletedProcess(args, 0, RECORDED, "")

    report = device_report(run=fake_smi)
    assert "GPU 0 NVIDIA H200: 87% busy, 30,512 / 143,771 MiB" in repr(report)
    assert len(query_gpus(run=fake_smi)) == 2


def test_sampler_records_while_the_function_runs():
    calls = []

    def fake_query():
        calls.append(1)
        return pd.DataFrame({"index": [0], "utilization.gpu_%": [50.0 + len(calls)]})

    import time

    result, samples = sample_gpu_utilization(lambda: time.sleep(0.35) or "done", interval=0.1, query=fake_query)
    assert result == "done"
    assert 2 <= len(samples) <= 6 and samples["seconds"].is_monotonic_increasing
    assert samples["utilization.gpu_%"].iloc[0] == 51.0
    _, empty = sample_gpu_utilization(lambda: None, query=lambda: None)
    assert empty.empty
