"""deploy/Caddyfile, as Caddy reads it (the `caddy` binary: `apt-get install caddy`):
valid and in Caddy's own format, HTTPS for TISSER_DOMAIN, plain HTTP on localhost
without one, and every request handed to the web service."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

CADDYFILE = Path(__file__).resolve().parents[2] / "deploy" / "Caddyfile"


def _caddy(*args: str, site: str | None, home: Path) -> subprocess.CompletedProcess[str]:
    caddy = shutil.which("caddy")
    assert caddy, "the Caddyfile tests need Caddy: apt-get install caddy"
    env = {k: v for k, v in os.environ.items() if k != "TISSER_SITE_ADDRESS"}
    if site is not None:
        env["TISSER_SITE_ADDRESS"] = site  # what compose.yaml passes
    env.update(HOME=str(home), XDG_DATA_HOME=str(home), XDG_CONFIG_HOME=str(home))
    return subprocess.run(
        [caddy, *args], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def _server(site: str | None, home: Path) -> dict[str, Any]:
    result = _caddy(
        "adapt", "--adapter", "caddyfile", "--config", str(CADDYFILE), site=site, home=home
    )
    assert result.returncode == 0, result.stderr
    (server,) = json.loads(result.stdout)["apps"]["http"]["servers"].values()
    return server


@pytest.mark.parametrize("site", [None, "tisser.example.org"])
def test_caddy_validates_it(site: str | None, tmp_path: Path) -> None:
    result = _caddy(
        "validate", "--adapter", "caddyfile", "--config", str(CADDYFILE), site=site, home=tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert "Valid configuration" in result.stdout + result.stderr


def test_it_is_in_caddys_own_format(tmp_path: Path) -> None:
    result = _caddy("fmt", str(CADDYFILE), site=None, home=tmp_path)

    assert result.returncode == 0, result.stderr
    assert result.stdout == CADDYFILE.read_text()


def test_a_domain_gets_https_and_everything_goes_to_web(tmp_path: Path) -> None:
    server = _server("tisser.example.org", tmp_path)

    assert server["listen"] == [":443"]  # Caddy adds the redirect from port 80 itself
    (route,) = server["routes"]
    assert route["match"] == [{"host": ["tisser.example.org"]}]
    text = json.dumps(route)
    assert '"upstreams": [{"dial": "web:8000"}]' in text
    assert '"encode"' not in text  # no compression of pages with secrets (BREACH)


def test_without_a_domain_it_is_plain_http_on_localhost(tmp_path: Path) -> None:
    server = _server(None, tmp_path)

    assert server["listen"] == [":80"]
    (route,) = server["routes"]
    assert route["match"] == [{"host": ["localhost"]}]
    assert '"upstreams": [{"dial": "web:8000"}]' in json.dumps(route)
