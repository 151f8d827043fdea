"""`jianguan serve`: N web processes on one port, the job worker exactly once, everything stops together."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from django.core.management.base import CommandError

from jianguan.core.management.commands.serve import default_workers

JG = str(Path(sys.executable).parent / "jianguan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_default_workers_come_from_the_environment_or_the_cores(monkeypatch):
    monkeypatch.setenv("JIANGUAN_WEB_WORKERS", "3")
    assert default_workers() == 3
    monkeypatch.delenv("JIANGUAN_WEB_WORKERS")
    assert default_workers() == max(1, min(4, os.cpu_count() or 1))
    monkeypatch.setenv("JIANGUAN_WEB_WORKERS", "many")
    with pytest.raises(CommandError, match="JIANGUAN_WEB_WORKERS"):
        default_workers()


def test_serve_runs_two_web_processes_and_one_job_worker_and_stops_them_all(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}", "JIANGUAN_VAR_DIR": str(tmp_path),
           "DJANGO_SETTINGS_MODULE": "jianguan.settings"}
    env.pop("JIANGUAN_TEST_DATABASE_URL", None)
    subprocess.run([JG, "migrate", "--verbosity", "0"], env=env, check=True, timeout=300)
    port = free_port()
    server = subprocess.Popen([JG, "serve", "--port", str(port), "--workers", "2", "--threads", "2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        status = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and status != 200:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/healthz")
                status = conn.getresponse().status
            except OSError:
                time.sleep(0.5)
        assert status == 200
        children = psutil.Process(server.pid).children(recursive=True)
        commands = [" ".join(c.cmdline()) for c in children]
        assert sum(cmd.endswith("jianguan worker") for cmd in commands) == 1, commands
        assert sum(" serve " in f"{cmd} " for cmd in commands) == 2, commands
        # Many requests spread over the processes all succeed.
        for _ in range(20):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", "/healthz")
            assert conn.getresponse().status == 200
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
        assert "监管平台已启动 (serving)" in server.stdout.read()
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
