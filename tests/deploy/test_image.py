"""The Dockerfile, read as `docker build` would (Docker does not run where the tests
run): two stages, the image that runs has no uv and no tests, runs as its own user, and
nothing secret goes into the build."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _stages() -> list[list[str]]:
    """The Dockerfile's instructions, one list per stage (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    stages: list[list[str]] = []
    for instruction in instructions:
        if instruction.startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def test_the_image_is_built_in_two_stages() -> None:
    build, final = _stages()

    assert re.match(r"FROM \S+ AS build$", build[0])
    assert any("uv sync --locked --no-dev" in i for i in build)
    assert "COPY --from=build /venv /venv" in final


def test_the_image_that_runs_has_no_uv_and_runs_as_its_own_user() -> None:
    final = _stages()[-1]

    assert not [i for i in final if re.search(r"\buv\b", i) and not i.startswith("#")]
    assert final[-2:] == [
        "EXPOSE 8000",
        'CMD ["tisser", "serve", "--host", "0.0.0.0", "--port", "8000"]',
    ]
    users = [i for i in final if i.startswith("USER ")]
    assert users == ["USER tisser"]


def test_tests_secrets_and_data_stay_out_of_the_build() -> None:
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }

    assert {"tests", ".env", "backups", "var", ".git", ".venv"} <= ignored


def test_the_development_app_stays_out_of_the_image_and_of_production() -> None:
    """bench/ (benchmarks, load client, fault report) is in a checkout, never in the
    image; and production settings would not install it even if it were there."""
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert "bench" in ignored
    settings_text = (ROOT / "config/settings.py").read_text()
    assert 'if not PRODUCTION and importlib.util.find_spec("bench") is not None:' in settings_text
    wheel = (ROOT / "pyproject.toml").read_text().split("[tool.hatch.build.targets.wheel]")[1]
    assert '"bench"' not in wheel.split("\n\n")[0]
