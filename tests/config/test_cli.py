"""The `tisser` command itself: its version."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version_is_tissers_own(tmp_path, flag) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "config.cli", flag],
        env={**os.environ, "TISSER_DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    version = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"tisser {version}\n"
