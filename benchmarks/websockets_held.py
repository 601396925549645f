"""Long-lived connections: 1000 WebSockets held open on one server process, a broadcast to all
of them, and beside them 1000 server-sent event streams — threads and memory for each.

    python -m benchmarks.websockets_held                 # 1000 of each, 5 broadcasts
    python -m benchmarks.websockets_held --clients 200   # smaller

Writes benchmarks/results/websockets_held.{json,md}. Not a test: the numbers depend on the
machine; what the committed run shows is the shape (threads per connection, memory per
connection, time for one broadcast to reach everyone), spread over the repetitions.
"""

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import time
from pathlib import Path

import httpx

from tutorial.probe import memory_mb, settled_thread_count, thread_count
from tutorial.site import start_site
from tutorial.sockets import close_all, open_many, recv_json

RESULTS = Path(__file__).resolve().parent / "results"
ROOM = "held"


def _raise_open_files_limit(needed):
    """Each connection is a descriptor on both sides; the child server inherits this limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


async def _members(client):
    return (await client.get(f"/room/{ROOM}/members/")).json()["members"]


async def held_websockets(site, clients, broadcasts, settle=1.0, **options):
    """Open `clients` sockets in one room, broadcast `broadcasts` times, close them all."""
    threads, memory = await settled_thread_count(site), memory_mb(site)
    started = time.perf_counter()
    sockets = await open_many(site, f"/ws/room/{ROOM}/", clients, at_once=100, **options)
    await asyncio.gather(*(recv_json(ws, timeout=60) for ws in sockets))  # each "joined"
    opened = time.perf_counter() - started
    await asyncio.sleep(settle)
    held = {"threads": thread_count(site) - threads, "mb": memory_mb(site) - memory}
    reach = []
    for n in range(broadcasts):
        text = f"broadcast {n}"
        started = time.perf_counter()
        await sockets[n % clients].send(json.dumps({"text": text}))
        received = await asyncio.gather(*(recv_json(ws, timeout=60) for ws in sockets))
        reach.append(time.perf_counter() - started)
        wrong = [m for m in received if m.get("text") != text]
        assert not wrong, f"{len(wrong)} sockets got something else: {wrong[:3]}"
    async with httpx.AsyncClient(base_url=site.url, timeout=30) as client:
        in_group = await _members(client)
        await close_all(sockets)
        deadline = time.monotonic() + 30
        while (left := await _members(client)) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    return {
        "clients": clients, "open_s": opened, "extra_threads": held["threads"],
        "extra_mb": held["mb"], "kb_per_client": held["mb"] * 1024 / clients,
        "members_in_group": in_group, "members_after_close": left,
        "broadcast_reach_s": reach,
    }  # fmt: skip


async def held_streams(site, clients, settle=1.0):
    """Open `clients` server-sent event streams at once and hold them until each sent an event."""
    threads, memory = await settled_thread_count(site), memory_mb(site)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=0)
    first_events = asyncio.Semaphore(0)
    async with httpx.AsyncClient(base_url=site.url, timeout=120, limits=limits) as client:

        async def hold():
            first = True
            async with client.stream("GET", "/stream/?count=1000&interval=5") as response:
                async for line in response.aiter_lines():
                    if first and line.startswith("data: "):
                        first = False
                        first_events.release()

        started = time.perf_counter()
        tasks = [asyncio.create_task(hold()) for _ in range(clients)]
        for _ in range(clients):
            await asyncio.wait_for(first_events.acquire(), 120)
        opened = time.perf_counter() - started
        await asyncio.sleep(settle)
        held = {"threads": thread_count(site) - threads, "mb": memory_mb(site) - memory}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {
        "clients": clients, "open_s": opened, "extra_threads": held["threads"],
        "extra_mb": held["mb"], "kb_per_client": held["mb"] * 1024 / clients,
    }  # fmt: skip


def _spread(values):
    return f"{statistics.median(values) * 1000:.0f} ms (min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f})"


def _postgres_row(result):
    pg = result.get("websockets_postgres_layer")
    if not pg:
        return []
    return [
        f"| WebSocket, no deflate, PostgreSQL layer (site process only) | {pg['clients']} | "
        f"{pg['open_s']:.1f} s | {pg['extra_threads']} | {pg['extra_mb']:.0f} MB | "
        f"{pg['kb_per_client']:.0f} kB |"
    ]


def _postgres_reach(result):
    pg = result.get("websockets_postgres_layer")
    if not pg:
        return []
    return [
        "",
        f"On the PostgreSQL layer (channels_postgres: one table row and one NOTIFY per member "
        f"for each group message) a broadcast reached all {pg['clients']} in "
        f"{_spread(pg['broadcast_reach_s'])}; the group held {pg['members_in_group']}, and "
        f"{pg['members_after_close']} after every client closed.",
    ]


def report(result):
    ws, plain, sse = result["websockets"], result["websockets_uncompressed"], result["sse"]
    return "\n".join([
        "# Long-lived connections: WebSockets and server-sent events on one process",
        "",
        f"One uvicorn process, the in-memory channel layer; {result['python']}, "
        f"{result['cpus']} CPUs, load average {result['load_average_at_start']:.1f} at the start "
        "(times move with the machine's other work; thread and member counts do not); "
        "generated by `python -m benchmarks.websockets_held`.",
        "",
        "| held open | clients | time to open all | extra threads | extra memory | per client |",
        "|---|---|---|---|---|---|",
        f"| WebSocket (`/ws/room/`) | {ws['clients']} | {ws['open_s']:.1f} s | "
        f"{ws['extra_threads']} | {ws['extra_mb']:.0f} MB | {ws['kb_per_client']:.0f} kB |",
        f"| WebSocket, no permessage-deflate | {plain['clients']} | {plain['open_s']:.1f} s | "
        f"{plain['extra_threads']} | {plain['extra_mb']:.0f} MB | {plain['kb_per_client']:.0f} kB |",
        f"| server-sent events (`/stream/`) | {sse['clients']} | {sse['open_s']:.1f} s | "
        f"{sse['extra_threads']} | {sse['extra_mb']:.0f} MB | {sse['kb_per_client']:.0f} kB |",
        *_postgres_row(result),
        "",
        f"One message sent by one client reached all {ws['clients']} sockets in "
        f"{_spread(ws['broadcast_reach_s'])} over {len(ws['broadcast_reach_s'])} broadcasts "
        f"({_spread(plain['broadcast_reach_s'])} without compression; the time includes this "
        "one client process reading all of them). "
        f"The room's group held {ws['members_in_group']} channels; after every client closed, "
        f"{ws['members_after_close']}.",
        *_postgres_reach(result),
        "",
        "Why: a consumer is a coroutine and holds no thread; a streaming response is a request, "
        "and Django's ASGI handler keeps a thread for each request while it lasts. Each "
        "broadcast is one group_send that wakes every consumer; in Channels 4.3 each of them "
        "then hops through the one shared sync thread (close_old_connections) before it sends. "
        "A WebSocket costs more memory than a stream: the consumer and its queues, and — unless "
        "the client offers none, as in the second row — the compression state that "
        "permessage-deflate keeps per connection (browsers offer it by default).",
        "",
    ])  # fmt: skip


async def on_the_postgres_layer(clients, broadcasts, settle):
    """The same sockets and broadcasts through channels_postgres, on the tutorial's PostgreSQL."""
    from tutorial.postgres import start_postgres

    layer = {"COMPANION_CHANNEL_LAYER": "postgres"}
    with (
        start_postgres() as pg,
        start_site(database="postgres", postgres=pg, env=layer, fresh=True) as site,
    ):
        result = await held_websockets(site, clients, broadcasts, settle, compression=None)
        log = site.logs(100_000)
    assert "Traceback" not in log, "the server on the PostgreSQL layer logged a traceback"
    return result


async def main(clients, broadcasts, settle=1.0, postgres_layer=False):
    limit = _raise_open_files_limit(4 * clients + 256)
    if limit < 2 * clients + 64:
        raise SystemExit(f"open-files limit {limit} is too low for {clients} clients")
    load = os.getloadavg()[0]  # other work on the machine: times move with it, counts do not
    with start_site(fresh=True) as site:
        websockets_result = await held_websockets(site, clients, broadcasts, settle)
        uncompressed = await held_websockets(site, clients, broadcasts, settle, compression=None)
        sse_result = await held_streams(site, clients, settle)
        log = site.logs(100_000)
    assert "Traceback" not in log, "the server logged a traceback"
    result = {
        "python": platform.python_version(), "cpus": os.cpu_count(),
        "load_average_at_start": load,
        "websockets": websockets_result, "websockets_uncompressed": uncompressed,
        "sse": sse_result,
    }  # fmt: skip
    if postgres_layer:
        result["websockets_postgres_layer"] = await on_the_postgres_layer(
            clients, broadcasts, settle
        )
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--broadcasts", type=int, default=5)
    parser.add_argument(
        "--memory-only", action="store_true", help="skip the run on the PostgreSQL channel layer"
    )
    parser.add_argument("--out", default="websockets_held", help="results file name, no suffix")
    args = parser.parse_args()
    result = asyncio.run(main(args.clients, args.broadcasts, postgres_layer=not args.memory_only))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{args.out}.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / f"{args.out}.md").write_text(report(result))
    print(report(result))
