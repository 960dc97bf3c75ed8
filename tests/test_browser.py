"""JupyterLab in a real browser: Debian's Chromium driven by Playwright.

A module fixture starts JupyterLab on a free loopback port with a random token, on a temporary folder that
holds (1) a copy of the quickstart with small parameters and an absolute ``data_dir`` and (2) a light notebook
made of notebook 01's parameters, imports and interactive cells. The tests open them as a user would
(Run -> Run All Cells), then check what the page shows. On failure a screenshot is saved in the test's
``tmp_path`` (its path is printed).

Chromium is ``/usr/bin/chromium`` (Debian's package; ``.ci/run`` installs it). Without it these tests FAIL,
unless ``RECNOTES_SKIP_BROWSER=1`` is set, which skips them (the kernelspec check still runs).
"""

import contextlib
import json
import os
import pathlib
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SERVER_START_TIMEOUT = 120  # s, JupyterLab on a busy 2-core machine
PAGE_TIMEOUT_MS = 120_000  # JupyterLab's first page load and the kernel start
RUN_ALL_TIMEOUT = 300  # s, the small quickstart end to end
WIDGET_TIMEOUT_MS = 90_000  # one redraw after a control moved



def test_every_notebook_opens_on_the_python3_kernel():
    """JupyterLab opens a notebook on its kernelspec; without one it asks the user to select a kernel."""
    paths = sorted(NOTEBOOKS.rglob("*.ipynb"))
    assert paths
    for path in paths:
        if ".ipynb_checkpoints" in path.parts:
            continue
        spec = nbformat.read(path, as_version=4).metadata.get("kernelspec", {})
        assert spec.get("name") == "python3" and spec.get("language") == "python", (path.name, spec)


# ---------------------------------------------------------------------------------------------- fixtures


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _set_parameters(nb, **values):
    """Replace assignments in the cell tagged ``parameters`` (each name must be there)."""
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    for name, value in values.items():
        pattern = re.compile(rf"^{name}\s*=.*$", re.MULTILINE)
        assert pattern.search(cell.source), f"{name} is not in the parameters cell"
        cell.source = pattern.sub(f"{name} = {value!r}", cell.source)


def _clean(nb):
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def _write_notebooks(folder: pathlib.Path):
    data_dir = str(ROOT / "data" / "ml-latest-small")
    quick = _clean(nbformat.read(NOTEBOOKS / "00_quickstart.ipynb", as_version=4))
    _set_parameters(quick, data_dir=data_dir, epochs=1, embedding_dim=8)
    nbformat.write(quick, folder / "quickstart_small.ipynb")

    full = _clean(nbformat.read(NOTEBOOKS / "01_convex_vs_nonconvex.ipynb", as_version=4))
    params = next(c for c in full.cells if "parameters" in c.metadata.get("tags", []))
    imports = next(c for c in full.cells if c.cell_type == "code" and "from recnotes.optimization import" in c.source)
    interactive = [c for c in full.cells if c.cell_type == "code" and "import ipywidgets" in c.source]
    assert len(interactive) == 1, "notebook 01 should have one interactive cell"
    light = full  # same metadata (kernelspec) and format, three cells
    light.cells = [params, imports, *interactive]
    _set_parameters(light, data_dir=data_dir, toy_steps=15)
    nbformat.write(light, folder / "widgets_light.ipynb")


def _get(url: str, timeout: float = 5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


@pytest.fixture(scope="module")
def chromium_path():
    if os.environ.get("RECNOTES_SKIP_BROWSER") == "1":
        pytest.skip("RECNOTES_SKIP_BROWSER=1: browser tests skipped")
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: install Debian's chromium (.ci/run does), "
                    "or set RECNOTES_SKIP_BROWSER=1 to skip the browser tests")
    return CHROMIUM


@pytest.fixture(scope="module")
def lab(tmp_path_factory, chromium_path):
    """A JupyterLab server on 127.0.0.1:<free port> with a random token; always stopped at teardown."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "notebooks"
    root.mkdir()
    _write_notebooks(root)
    config = base / "config"
    (config / "labconfig").mkdir(parents=True)
    # no "receive Jupyter news?" toast, no update check: nothing may try the network
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ,
               JUPYTER_CONFIG_DIR=str(config),
               JUPYTER_RUNTIME_DIR=str(base / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
               IPYTHONDIR=str(base / "ipython"),
               TF_CPP_MIN_LOG_LEVEL="2",
               PATH=os.pathsep.join([str(pathlib.Path(sys.executable).parent), os.environ.get("PATH", "")]))
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    log_path = base / "jupyterlab.log"
    log = open(log_path, "w")
    server = subprocess.Popen(command, cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if server.poll() is not None:
                pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError, ValueError):
                _get(f"{base_url}/api/status?token={token}")
                break
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT} s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield {"url": base_url, "token": token, "root": root, "log": log_path}
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def browser_context(lab, chromium_path, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),  # a fresh --user-data-dir
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


@contextlib.contextmanager
def screenshot_on_failure(page, tmp_path, name, lab):
    try:
        yield
    except BaseException:
        shot = tmp_path / f"{name}.png"
        with contextlib.suppress(Exception):
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
        print(f"JupyterLab log: {lab['log']}\n{lab['log'].read_text()[-3000:]}")
        raise


# ---------------------------------------------------------------------------------------------- helpers

_STATE_JS = r"""() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!nb) return null;
  const prompts = [...nb.querySelectorAll('.jp-CodeCell .jp-InputArea-prompt')].map(p => p.textContent.trim());
  const indicator = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook-ExecutionIndicator');
  const text = [...nb.querySelectorAll('.jp-OutputArea-output')].map(o => o.textContent).join('\n');
  return {prompts, status: indicator ? indicator.getAttribute('data-status') : null,
          traceback: /Traceback \(most recent call last\)|^\w*Error\b.*:/m.test(text)};
}"""


def open_notebook(page, lab, name):
    page.goto(f"{lab['url']}/lab/tree/{name}?reset&token={lab['token']}", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=PAGE_TIMEOUT_MS)
    # opens straight onto its kernel: the server has a session for it whose kernel is idle and connected to the
    # page, with no "Select Kernel" dialog on the way
    deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
    while True:
        sessions = _get(f"{lab['url']}/api/sessions?token={lab['token']}")
        kernels = [s["kernel"] for s in sessions if s.get("path") == name and s.get("kernel")]
        if kernels and kernels[0]["execution_state"] == "idle" and kernels[0].get("connections", 0) >= 1:
            assert kernels[0]["name"] == "python3", kernels
            break
        assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").inner_text()
        if time.monotonic() > deadline:
            raise AssertionError(f"no idle, connected kernel for {name}: {sessions}")
        time.sleep(0.5)
    page.wait_for_function(
        "() => document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator')"
        "?.getAttribute('data-status') === 'idle'", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_timeout(1000)
    assert page.locator(".jp-Dialog").count() == 0, page.locator(".jp-Dialog").inner_text()


def run_all_cells(page, timeout: float):
    """Run -> Run All Cells, then wait until every code cell has an execution count and the kernel is idle."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item", has=page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$"))).click()
    deadline = time.monotonic() + timeout
    while True:
        state = page.evaluate(_STATE_JS)
        done = state and state["status"] == "idle" and not any("*" in p for p in state["prompts"])
        if done and (all(re.search(r"\d", p) for p in state["prompts"]) or state["traceback"]):
            return state
        if time.monotonic() > deadline:
            raise AssertionError(f"cells still running after {timeout} s: {state}")
        time.sleep(1)


def error_outputs(page):
    """Texts of outputs that are Python errors (TensorFlow's log lines on stderr are not errors)."""
    texts = page.locator(".jp-OutputArea-output").all_text_contents()
    return [t for t in texts if "Traceback (most recent call last)" in t or re.search(r"^\w*Error\b.*:", t, re.M)]


# ---------------------------------------------------------------------------------------------- tests


def test_quickstart_runs_all_cells_in_jupyterlab(lab, browser_context, tmp_path):
    page = browser_context.new_page()
    with screenshot_on_failure(page, tmp_path, "quickstart", lab):
        open_notebook(page, lab, "quickstart_small.ipynb")
        state = run_all_cells(page, RUN_ALL_TIMEOUT)
        assert not error_outputs(page), error_outputs(page)
        assert not state["traceback"]
        assert all(re.search(r"\d", p) for p in state["prompts"]), state["prompts"]
        metrics = page.locator(".jp-OutputArea-output", has_text=re.compile(r"Recall@20[ =]+0\.\d+"))
        assert metrics.count() >= 1
        metrics.first.scroll_into_view_if_needed()
        assert metrics.first.is_visible()
        images = page.locator(".jp-RenderedImage img")
        assert images.count() >= 1
        images.first.scroll_into_view_if_needed()
        assert images.first.is_visible()
        assert images.first.evaluate("img => img.naturalWidth") > 0
    page.close()


def test_moving_a_widget_redraws_the_figure(lab, browser_context, tmp_path):
    page = browser_context.new_page()
    with screenshot_on_failure(page, tmp_path, "widgets", lab):
        open_notebook(page, lab, "widgets_light.ipynb")
        run_all_cells(page, RUN_ALL_TIMEOUT)
        assert not error_outputs(page), error_outputs(page)
        dropdown = page.locator(".widget-dropdown select")
        dropdown.wait_for(timeout=WIDGET_TIMEOUT_MS)
        image = page.locator(".jp-RenderedImage img").last
        image.wait_for(timeout=WIDGET_TIMEOUT_MS)
        before = image.get_attribute("src")
        assert before and before.startswith("data:image/png")
        dropdown.select_option("sgd")
        page.wait_for_function(
            "before => { const imgs = document.querySelectorAll('.jp-RenderedImage img');"
            " const src = imgs.length ? imgs[imgs.length - 1].getAttribute('src') : null;"
            " return src && src.startsWith('data:image/png') && src !== before; }",
            arg=before, timeout=WIDGET_TIMEOUT_MS)
        assert page.locator(".jp-RenderedImage img").count() == 1  # redrawn in place, not appended
        assert not error_outputs(page), error_outputs(page)
    page.close()
