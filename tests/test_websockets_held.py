"""benchmarks.websockets_held, small: it still runs end to end and its numbers have the shape the
committed results report (no thread per socket, one per event stream, every broadcast delivered)."""

import asyncio

from benchmarks import websockets_held


def test_a_small_held_run_reports_threads_memory_and_every_broadcast_delivered():
    result = asyncio.run(websockets_held.main(clients=20, broadcasts=2, settle=0.2))
    sockets, streams = result["websockets"], result["sse"]
    assert sockets["members_in_group"] == 20 and sockets["members_after_close"] == 0
    assert len(sockets["broadcast_reach_s"]) == 2  # each reached all 20, or main() raised
    assert sockets["extra_threads"] <= 2 < 10 <= streams["extra_threads"]
    assert "| WebSocket" in websockets_held.report(result)
