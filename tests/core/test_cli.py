"""The `jianguan` console script answers a bad database setting with a readable error and exit code 2."""

from __future__ import annotations

import os
import subprocess
import sys


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "jianguan", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **env}, check=False)


def test_a_database_url_pointing_at_a_missing_folder_is_named_in_the_error(tmp_path):
    result = run("migrate", DATABASE_URL=f"sqlite:///{tmp_path}/missing/folder/db.sqlite3")
    assert result.returncode == 2
    assert "无法打开数据库" in result.stderr and "DATABASE_URL" in result.stderr


def test_an_unknown_database_scheme_is_a_configuration_error():
    result = run("check", DATABASE_URL="nosuchdb://x")
    assert result.returncode == 2
    assert "DATABASE_URL 无法解析" in result.stderr


def test_every_command_has_help(capsys):
    from django.core.management import ManagementUtility, get_commands

    for command in ["workdays", "audit", "jobs", "org", "demo", "serve", "worker"]:
        assert command in get_commands()
        try:
            ManagementUtility(["jianguan", command, "--help"]).execute()
        except SystemExit as exc:
            assert exc.code in (0, None)
        out = capsys.readouterr().out
        assert "usage" in out.lower() and "jianguan" in out
