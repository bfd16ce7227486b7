"""`make lab`: JupyterLab starts on the chapters, and its notebooks' kernel is this environment's
Python (with the course's package), so a chapter opened there runs as it does under papermill."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def test_jupyterlab_serves_the_chapters_with_the_course_kernel(tmp_path):
    port = _free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config")}
    # the command `make lab` runs, without a browser and on a free port
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--notebook-dir=chapters", "--no-browser",
         f"--port={port}", "--ServerApp.token=", "--ServerApp.password=",
         "--ServerApp.ip=127.0.0.1", *(["--allow-root"] if os.geteuid() == 0 else [])], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(120):
            try:
                _get(f"{base}/api/status")
                break
            except OSError:
                assert server.poll() is None, server.stderr.read()[-2000:]
                time.sleep(0.5)
        assert b"JupyterLab" in _get(f"{base}/lab")
        listed = {item["name"] for item in json.loads(_get(f"{base}/api/contents"))["content"]}
        assert "01_background.ipynb" in listed and "glossary.md" in listed
        specs = json.loads(_get(f"{base}/api/kernelspecs"))
        kernel = specs["kernelspecs"][specs["default"]]["spec"]
        assert specs["default"] == "python3"  # the name every chapter's metadata asks for
        python = shutil.which(kernel["argv"][0], path=env["PATH"])  # as the server starts it
        found = subprocess.run([python, "-c", "import dlg_helpers, sys; print(sys.prefix)"],
                               capture_output=True, text=True, check=True).stdout.strip()
        assert Path(found) == Path(sys.prefix)
    finally:
        server.terminate()
        server.wait(timeout=30)
