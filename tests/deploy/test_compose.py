"""compose.yaml, read as `docker compose` would on a fresh server (Docker does not run
where the tests run): Caddy in front and gunicorn's port on compose's network only,
health checks that gate the start, no default secret, and the web service's
environment, as compose interpolates it from .env, passing Django's deployment checks.
"""

from __future__ import annotations

import ipaddress
import itertools
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# What .env.example's commands generate: `openssl rand -hex 32`.
SECRETS = {
    name: secrets.token_hex(32)
    for name in ("SECRET_KEY", "POSTGRES_PASSWORD", "TISSER_METRICS_TOKEN")
}
# ${NAME}, ${NAME:-default}, ${NAME:+replacement}, ${NAME:?error}: what compose.yaml uses.
_VARIABLE = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:[-+?])(?P<arg>[^}]*))?\}")


class Unset(Exception):
    """A required variable (${NAME:?error}) is unset or empty: compose refuses to start."""


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose's interpolation of the forms above, in every string of the document."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"]
        current = env.get(name, "")
        if op == ":-":
            return current or arg
        if op == ":+":
            return arg if current else ""
        if op == ":?" and not current:
            raise Unset(f"{name}: {arg}")
        return current

    assert "$$" not in value
    result = _VARIABLE.sub(substitute, value)
    assert "$" not in result, f"a form this reading does not know: {value}"
    return result


def compose(**env: str) -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return interpolate(document, env)


def test_caddy_is_in_front_and_only_it_is_published() -> None:
    services = compose(**SECRETS)["services"]

    assert services["proxy"]["image"].startswith("caddy:")
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["proxy"]["volumes"]
    published = {name: s["ports"] for name, s in services.items() if s.get("ports")}
    assert published == {"proxy": ["127.0.0.1:80:80", "127.0.0.1:443:443", "127.0.0.1:443:443/udp"]}
    assert services["proxy"]["depends_on"] == {"web": {"condition": "service_healthy"}}


def _published_on(services: dict[str, Any]) -> set[str]:
    """The host addresses the proxy's ports are published on (`ADDRESS:HOST:CONTAINER`)."""
    return {port.rsplit(":", 2)[0] for port in services["proxy"]["ports"]}


def test_to_try_it_only_this_machine_reaches_it() -> None:
    """`http://localhost` answers whoever sends `Host: localhost`: in trial mode, no other
    machine may reach the port at all."""
    (address,) = _published_on(compose(**SECRETS)["services"])

    assert ipaddress.ip_address(address).is_loopback


def _env_file(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"^\w+=", line))


def test_the_readme_walk_publishes_it_with_its_domain(tmp_path: Path) -> None:
    """Step 2 of the deployment walk, run as an operator would: the domain set, and the
    ports published on every address of the server so that Caddy can obtain its
    certificate."""
    block = _production_section().split("**2. Configure it, once.**")[1].split("```")[1]
    commands = block.split("cp .env.example .env", 1)[1]
    (tmp_path / ".env.example").write_text((ROOT / ".env.example").read_text())
    subprocess.run(["bash", "-ec", "cp .env.example .env" + commands], cwd=tmp_path, check=True)
    env = _env_file(tmp_path / ".env")

    services = compose(**env)["services"]

    assert services["proxy"]["environment"]["TISSER_SITE_ADDRESS"] == "tisser.example.org"
    assert _published_on(services) == {"0.0.0.0"}


def test_web_is_healthy_by_its_own_address_and_gates_the_rest() -> None:
    services = compose(**SECRETS)["services"]

    probe = " ".join(services["web"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8000/healthz" in probe
    assert services["web"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    for name in ("worker", "slip-worker", "relay"):
        assert services[name]["depends_on"] == {"web": {"condition": "service_healthy"}}
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]


def test_only_the_proxy_is_trusted_about_clients() -> None:
    document = compose(**SECRETS)
    proxy = ipaddress.ip_address(
        document["services"]["proxy"]["networks"]["default"]["ipv4_address"]
    )
    (pool,) = document["networks"]["default"]["ipam"]["config"]

    assert document["services"]["web"]["environment"]["TISSER_TRUSTED_PROXIES"] == str(proxy)
    # In the network, but outside the range containers are given addresses from.
    assert proxy in ipaddress.ip_network(pool["subnet"])
    assert proxy not in ipaddress.ip_network(pool["ip_range"])


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_no_secret_has_a_default(missing: str) -> None:
    env = {k: v for k, v in SECRETS.items() if k != missing}

    with pytest.raises(Unset, match=missing):
        compose(**env)


def test_the_database_password_is_the_one_in_env() -> None:
    services = compose(**SECRETS)["services"]
    password = SECRETS["POSTGRES_PASSWORD"]

    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == password
    assert services["backup"]["environment"]["PGPASSWORD"] == password
    url = services["web"]["environment"]["DATABASE_URL"]
    assert url == f"postgres://tisser:{password}@postgres:5432/tisser"


def _tisser_check(environment: dict[str, str], *args: str, data_dir: Path) -> Any:
    """`tisser check` in the web service's environment (but the data directory)."""
    ours = ("TISSER_", "DATABASE_URL", "REDIS_URL", "PROMETHEUS_MULTIPROC_DIR")
    env = {k: v for k, v in os.environ.items() if not k.startswith(ours)}
    return subprocess.run(
        [sys.executable, "-m", "config.cli", "check", *args],
        env={**env, **environment, "TISSER_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_with_a_domain_web_passes_the_deployment_checks(tmp_path: Path) -> None:
    services = compose(**SECRETS, TISSER_DOMAIN="tisser.example.org")["services"]
    environment = services["web"]["environment"]

    assert environment["TISSER_ALLOWED_HOSTS"] == "tisser.example.org"
    assert environment["TISSER_PUBLIC_URL"] == "https://tisser.example.org"
    assert environment["TISSER_SSL_REDIRECT"] == "true"
    assert services["proxy"]["environment"]["TISSER_SITE_ADDRESS"] == "tisser.example.org"
    result = _tisser_check(environment, "--deploy", "--fail-level", "WARNING", data_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_a_domain_it_runs_on_localhost_over_plain_http(tmp_path: Path) -> None:
    # What compose.yaml's header promises: http://localhost/api/v1/docs.
    services = compose(**SECRETS)["services"]
    environment = services["web"]["environment"]

    assert services["proxy"]["environment"]["TISSER_SITE_ADDRESS"] == "http://localhost"
    assert environment["TISSER_ALLOWED_HOSTS"] == "localhost"
    assert environment["TISSER_PUBLIC_URL"] == "http://localhost"
    assert environment["TISSER_SSL_REDIRECT"] == ""  # off: nothing to redirect to
    result = _tisser_check(environment, data_dir=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    header = (ROOT / "compose.yaml").read_text().split("\nx-tisser:")[0]
    assert re.findall(r"https?://\S+", header)[0] == "http://localhost/api/v1/docs"


def test_env_example_generates_each_secret_once(tmp_path: Path) -> None:
    """The commands at the top of .env.example, run as an operator would."""
    example = (ROOT / ".env.example").read_text()
    commands = [line[4:] for line in example.splitlines() if line.startswith("#   ")]
    assert commands[0] == "cp .env.example .env"
    (tmp_path / ".env.example").write_text(example)

    def run() -> dict[str, str]:
        subprocess.run(["bash", "-ec", "\n".join(commands[1:])], cwd=tmp_path, check=True)
        return _env_file(tmp_path / ".env")

    subprocess.run(["bash", "-ec", commands[0]], cwd=tmp_path, check=True)
    first = run()
    second = run()

    for name in SECRETS:
        assert re.fullmatch(r"[0-9a-f]{64}", first[name]), name
    assert second == first  # run again, nothing changes
    assert first["SECRET_KEY"] != first["POSTGRES_PASSWORD"]
    assert first["TISSER_DOMAIN"] == ""
    assert first["TISSER_PUBLISH_ADDRESS"] == "127.0.0.1"  # this machine only, to try it
    # Every variable compose.yaml requires is in .env.example.
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "compose.yaml").read_text()))
    assert required <= set(first)


def _production_section() -> str:
    """The deployment walk of the docs (docs/operations/deployment.md)."""
    return (ROOT / "docs/operations/deployment.md").read_text()


def test_the_readme_walk_uses_what_exists() -> None:
    """Every service, command and script the deployment walk names is there, and its
    secrets are made as .env.example makes them."""
    from django.core.management import get_commands

    section = _production_section()
    services = set(compose(**SECRETS)["services"])
    commands = set(get_commands())
    invocations = re.findall(r"^docker compose (.+)$", section, re.M)
    assert len(invocations) > 10

    for invocation in invocations:
        words = invocation.split("#")[0].split()
        verb, rest = words[0], []
        options_with_values = ("-v", "-e", "--user", "--entrypoint")
        for before, word in itertools.pairwise(words):
            if not word.startswith("-") and before not in options_with_values:
                rest.append(word)
        if verb in ("exec", "run") and rest:
            assert rest[0] in services, invocation
            if "tisser" in words:
                command = words[words.index("tisser") + 1]
                assert command == "--version" or command.replace("-", "_") in commands, invocation
        if verb == "stop":
            assert set(rest) <= services, invocation
    for script in re.findall(r"(?<![\w/])/?deploy/([\w.-]+)", section):
        assert (ROOT / "deploy" / script).exists(), script
    example = (ROOT / ".env.example").read_text()
    loop = re.search(r"^for name in .*?^done$", section, re.M | re.S)
    assert loop is not None
    assert "\n".join("#   " + line for line in loop[0].splitlines()) in example


def test_the_erasure_ledger_is_outside_what_a_backup_archives_and_a_restore_unpacks() -> None:
    services = compose(**SECRETS)["services"]
    backup = services["backup"]["environment"]
    data_dir = Path(services["web"]["environment"]["TISSER_DATA_DIR"])

    # Where web and the workers write it (settings: TISSER_DATA_DIR/erasures/ledger.csv),
    # which backup.sh copies beside the dump and the rehearsal reads.
    assert backup["TISSER_ERASURE_LEDGER"] == str(data_dir / "erasures" / "ledger.csv")
    assert not Path(backup["TISSER_ERASURE_LEDGER"]).is_relative_to(backup["TISSER_FILES_DIR"])
    assert "tisser-data:/data:ro" in services["backup"]["volumes"]


def test_the_restore_erases_again_before_anything_starts() -> None:
    """Step 6 of the deployment walk: the database, then the slips, then whoever was
    erased since the backup erased again (their slips with them), and only then the
    services."""
    section = _production_section()
    steps = section.split("**6. Restore.**")[1].split("**7.")[0].replace("\\\n", " ")
    commands = re.findall(r"^docker compose (.+)$", steps, re.M)
    order = [
        next(i for i, c in enumerate(commands) if marker in c)
        for marker in ("pg_restore", "tar -xzf", "tisser erasures-reapply", "up -d")
    ]

    assert order == sorted(order)
    assert commands[0].startswith("stop ")


def test_one_service_builds_the_image_the_others_run() -> None:
    """Several services building one tag at once collide on a fresh server ("image
    already exists"): web builds it, the workers and the relay never pull it."""
    services = compose(**SECRETS)["services"]
    on_image = {name for name, s in services.items() if s.get("image") == "tisser:latest"}
    assert {name for name, s in services.items() if "build" in s} == {"web"}
    assert on_image - {"web"}
    for name in on_image - {"web"}:
        assert services[name].get("pull_policy") == "never", name
