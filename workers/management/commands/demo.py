from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.keys import api_key_create, health_center_create
from accounts.models import HealthCenter, Membership
from community_catalog.demo_data import demo_catalog_load
from community_catalog.models import Organization
from core.broker import embedded

DEMO_CENTER = "Maison de santé des Pentes (démo)"

# A dozen people, as a health centre in Lyon might refer them. The last one lives too far
# from any activity: the demo shows what an unmatched referral looks like too.
PEOPLE: list[dict[str, Any]] = [
    {
        "first_name": "Josiane",
        "year_of_birth": 1948,
        "needs": ["isolation"],
        "at": (45.7560, 4.8420),
        "note": "Vous m'avez dit aimer parler avec les gens : allez-y "
        "une première fois, sans engagement.",
    },
    {
        "first_name": "Karim",
        "year_of_birth": 1979,
        "needs": ["food-insecurity"],
        "at": (45.7440, 4.8700),
        # Agreed to their own page (a second QR code on the slip); no address, so no
        # message is sent.
        "own_page": True,
    },
    {
        "first_name": "Emily",
        "year_of_birth": 1991,
        "needs": ["new-to-area"],
        "lang": "en",
        "at": (45.7630, 4.8550),
        "note": "Welcome to Lyon! These groups are a good way to meet people.",
    },
    {
        "first_name": "Bernard",
        "year_of_birth": 1956,
        "needs": ["inactivity"],
        "at": (45.7700, 4.8760),
    },
    {
        "first_name": "Fatou",
        "year_of_birth": 1968,
        "needs": ["caring-burden"],
        "at": (45.7590, 4.8500),
        "note": "Prendre du temps pour vous, c'est aussi prendre soin de votre mère.",
    },
    {"first_name": "Lucas", "year_of_birth": 2001, "needs": ["low-mood"], "at": (45.7750, 4.8300)},
    {
        "first_name": "Ana",
        "year_of_birth": 1985,
        "needs": ["digital-exclusion"],
        "at": (45.7380, 4.8690),
    },
    {
        "first_name": "Georges",
        "year_of_birth": 1940,
        "needs": ["walking-group"],
        "at": (45.7750, 4.8500),
        "distance": 3,
    },
    {
        "first_name": "Sarah",
        "year_of_birth": 1973,
        "needs": ["creative"],
        "lang": "en",
        "at": (45.7730, 4.8280),
    },
    {
        "first_name": "Mohamed",
        "year_of_birth": 1962,
        "needs": ["cooking-workshop"],
        "at": (45.7745, 4.8060),
    },
    {
        "first_name": "Irène",
        "year_of_birth": 1952,
        "needs": ["collective-reading"],
        "at": (45.7365, 4.8710),
    },
    {
        "first_name": "Paul",
        "year_of_birth": 1958,
        "needs": ["isolation"],
        "at": (45.9890, 4.7190),
        "distance": 5,
    },
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def web_logins(organization: str | None) -> list[str]:
    """Sign-ins to try the web pages with: one for the demo centre, one for an
    organisation with people waiting in its inbox. A new password each run."""
    User = get_user_model()
    logins: list[tuple[str, dict[str, Any]]] = [
        ("demo.clinicien", {"health_center": HealthCenter.objects.get(name=DEMO_CENTER)})
    ]
    if organization is not None:
        logins.append(
            ("demo.association", {"organization": Organization.objects.get(name=organization)})
        )
    lines = ["web pages: `uv run tisser serve`, then http://127.0.0.1:8000/app/ signed in as"]
    for username, party in logins:
        password = secrets.token_urlsafe(12)
        user, _created = User.objects.get_or_create(username=username)
        user.set_password(password)
        user.save()
        Membership.objects.update_or_create(
            user=user, defaults={"health_center": None, "organization": None, **party}
        )
        name = next(iter(party.values()))
        lines.append(f"  {username} / {password}  ({name})")
    return lines


class Command(BaseCommand):
    help = (
        "Run Tisser end to end on this machine: load a sample catalogue, file a dozen "
        "referrals through the HTTP API, wait for the slips and copy them to a folder."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out", type=Path, default=None, help="Where to copy the slips (default: data dir)."
        )
        parser.add_argument("--timeout", type=float, default=180, help="Seconds to wait.")

    def handle(self, *args: Any, out: Path | None, timeout: float, **options: Any) -> None:
        started = time.perf_counter()
        out = (out or Path(settings.DATA_DIR) / "demo-slips").resolve()
        out.mkdir(parents=True, exist_ok=True)

        self.stdout.write("Preparing the database…")
        call_command("migrate", interactive=False, verbosity=0)
        services = demo_catalog_load()
        center = HealthCenter.objects.filter(name=DEMO_CENTER).first()
        if center is None:
            center, key = health_center_create(name=DEMO_CENTER)
        else:
            key = api_key_create(health_center=center, name="demo run")
        # The demo centre asks the wellbeing questions, so the reports have them.
        HealthCenter.objects.filter(id=center.id).update(records_wellbeing=True)
        self.stdout.write(f"  catalogue: {services} activities; health centre: {center.name}")
        if not embedded():
            self.stdout.write("  REDIS_URL is set: make sure `tisser worker` is running.")

        port = _free_port()
        log_path = Path(settings.DATA_DIR) / "demo-server.log"
        self.stdout.write(f"Starting `tisser serve` on 127.0.0.1:{port} (log: {log_path})…")
        with log_path.open("ab") as log:
            server = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
                [
                    sys.executable,
                    "-m",
                    "config.cli",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--no-migrate",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )
        try:
            summary = self._run(f"http://127.0.0.1:{port}", key, out, timeout, server)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        elapsed = time.perf_counter() - started
        self.stdout.write(self.style.SUCCESS("\nDone."))
        for line in summary:
            self.stdout.write(f"  {line}")
        self.stdout.write(f"  total time: {elapsed:.1f} s")

    def _run(
        self, base: str, key: str, out: Path, timeout: float, server: subprocess.Popen[bytes]
    ) -> list[str]:
        client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30)
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise CommandError("The server stopped; see the log above.")
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise CommandError("The server did not start within 60 s.")
            time.sleep(0.2)

        self.stdout.write(f"Filing {len(PEOPLE)} referrals through POST /api/v1/referrals…")
        filed = []
        for i, person in enumerate(PEOPLE, start=1):
            body = {
                "patient_ref": f"demo-{i:03d}",
                "first_name": person["first_name"],
                "year_of_birth": person["year_of_birth"],
                "preferred_language": person.get("lang", "fr"),
                "location": {"latitude": person["at"][0], "longitude": person["at"][1]},
                "needs": person["needs"],
                "max_distance_km": person.get("distance", 4),
                "note_for_patient": person.get("note", ""),
                "clinician_name": "Dr Camille Durand",
                "wellbeing": {
                    "life_satisfaction": 3 + i % 4,
                    "worthwhile": 4 + i % 3,
                    "happiness": 3 + i % 5,
                    "anxiety": 8 - i % 4,
                },
                "consent": {"given": True, "method": "verbal", "at": datetime.now(UTC).isoformat()},
            }
            if person.get("own_page"):
                body["contact"] = {"messages_consent": body["consent"]}
            response = client.post("/api/v1/referrals", json=body)
            if response.status_code != 202:
                raise CommandError(f"POST refused ({response.status_code}): {response.text}")
            filed.append(response.json())

        self.stdout.write("Waiting for matching and slips…")
        deadline = time.monotonic() + timeout
        pending = {r["id"] for r in filed}
        details: dict[str, dict[str, Any]] = {}
        while pending:
            # One request a round, the way a client should poll (keys are rate-limited).
            ready = client.get("/api/v1/referrals", params={"stage": "slip_ready", "limit": 100})
            for detail in ready.json()["items"]:
                if detail["id"] in pending:
                    details[detail["id"]] = detail
                    pending.discard(detail["id"])
            if pending and time.monotonic() > deadline:
                raise CommandError(f"{len(pending)} referral(s) not ready after {timeout:.0f} s.")
            if pending:
                time.sleep(0.25)

        for accepted in filed:
            detail = details[accepted["id"]]
            pdf = client.get(f"/api/v1/referrals/{accepted['id']}/slip.pdf")
            pdf.raise_for_status()
            (out / f"{detail['code']}.pdf").write_bytes(pdf.content)
        matched = [d for d in details.values() if d["matches"]]
        summary = [
            f"referrals filed: {len(filed)}",
            f"matched: {len(matched)}, with {sum(len(d['matches']) for d in matched)} "
            f"activities proposed; unmatched: {len(filed) - len(matched)}",
            f"slips: {out}",
        ]
        first = next((d for d in matched if len(d["placements"]) >= 2), None)
        if first is not None:
            summary += self._closed_loop(base, client, first, out, deadline)
        organization = next(
            (
                p["organization"]
                for d in matched
                for p in d["placements"]
                if p["status"] == "requested"
            ),
            None,
        )
        funnel = client.get("/api/v1/reports").json()["tables"]["funnel"]["rows"]
        summary.append(
            "report (GET /api/v1/reports, /app/reports/): "
            + " → ".join(f"{row['step'].lower()} {row['count']}" for row in funnel)
        )
        return summary + web_logins(organization)

    def _answer(self, base: str, placement: dict[str, Any], action: str) -> str:
        organization = Organization.objects.get(id=placement["organization_id"])
        org_key = api_key_create(organization=organization, name="demo run")
        inbox = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {org_key}"}, timeout=30
        )
        body = {"reason": "no-capacity"} if action == "reject" else {"note": "À mardi !"}
        response = inbox.post(f"/api/v1/inbox/placements/{placement['id']}/{action}", json=body)
        if response.status_code != 200:
            raise CommandError(f"{action} refused ({response.status_code}): {response.text}")
        return f"{organization.name} {action}ed {placement['activity']!r}"

    def _closed_loop(
        self,
        base: str,
        center: httpx.Client,
        referral: dict[str, Any],
        out: Path,
        deadline: float,
    ) -> list[str]:
        """Organisations answer through their inbox: the first has no room, so Tisser
        offers the person the next best activity and prints a new slip; then another
        accepts."""
        self.stdout.write("Organisations answer through their inbox (reject: no capacity; accept)…")
        answers = [self._answer(base, referral["placements"][0], "reject")]
        while True:
            detail = center.get(f"/api/v1/referrals/{referral['id']}").json()
            if detail["stage"] == "slip_ready" and (detail["slip_version"] or 0) >= 2:
                break
            if time.monotonic() > deadline:
                raise CommandError("The re-match after the rejection did not finish in time.")
            time.sleep(0.25)
        answers.append(self._answer(base, referral["placements"][1], "accept"))
        newest = max(detail["placements"], key=lambda p: p["rank"])
        pdf = center.get(f"/api/v1/referrals/{referral['id']}/slip.pdf")
        pdf.raise_for_status()
        (out / f"{detail['code']}-v2.pdf").write_bytes(pdf.content)
        history = center.get(f"/api/v1/referrals/{referral['id']}/events").json()["items"]
        return [
            f"closed loop for {detail['code']}: " + "; ".join(answers),
            f"  → offered instead: {newest['activity']!r}; new slip {detail['code']}-v2.pdf; "
            f"{len(history)} events in its history",
        ]
