"""The load generator `tisser bench intake` and `tisser bench pipeline` drive the server
with: a separate process (so its own CPU is not the server's Python), asyncio and httpx,
a fixed number of connections each sending one request after another (a closed loop).

    python -m bench.load_client PLAN.json

The plan names the server, the headers, the bodies to send (taken in turn) and the
phases: `{"name", "path", "seconds"}` to send for a while, or `{"name", "path",
"count"}` to send a number of requests. It prints one JSON object: per phase, the
requests sent, the errors, the wall time, and every latency in milliseconds (or, for a
counted phase, what each answer said, so the caller can follow what it filed).

It imports nothing from Django: starting it costs little and it measures only HTTP.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any

import httpx


async def _phase(
    client: httpx.AsyncClient, plan: dict[str, Any], phase: dict[str, Any]
) -> dict[str, Any]:
    bodies: list[bytes] = [json.dumps(b).encode() for b in plan["bodies"]]
    latencies: list[float] = []
    answers: list[dict[str, Any]] = []
    errors: dict[str, int] = {}
    seconds = phase.get("seconds")
    count = phase.get("count")
    deadline = time.perf_counter() + seconds if seconds else None
    sent = 0

    def next_index() -> int | None:
        nonlocal sent
        if deadline is not None and time.perf_counter() >= deadline:
            return None
        if count is not None and sent >= count:
            return None
        sent += 1
        return sent - 1

    async def connection() -> None:
        while (index := next_index()) is not None:
            body = bodies[index % len(bodies)]
            started = time.perf_counter()
            try:
                response = await client.post(phase["path"], content=body)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code >= 300:
                key = str(response.status_code)
                errors[key] = errors.get(key, 0) + 1
            elif phase.get("keep_answers"):
                answers.append({"sent_at": time.time(), **response.json()})

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(plan["concurrency"])))
    wall = time.perf_counter() - started
    return {
        "name": phase["name"],
        "requests": len(latencies) + sum(v for k, v in errors.items() if not k.isdigit()),
        "errors": errors,
        "seconds": wall,
        "latencies_ms": latencies,
        "answers": answers,
    }


async def run(plan: dict[str, Any]) -> list[dict[str, Any]]:
    limits = httpx.Limits(
        max_connections=plan["concurrency"], max_keepalive_connections=plan["concurrency"]
    )
    async with httpx.AsyncClient(
        base_url=plan["base_url"],
        headers={"Content-Type": "application/json", **plan.get("headers", {})},
        limits=limits,
        timeout=60,
    ) as client:
        return [await _phase(client, plan, phase) for phase in plan["phases"]]


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as file:
        plan = json.load(file)
    print(json.dumps(asyncio.run(run(plan))))


if __name__ == "__main__":
    main()
