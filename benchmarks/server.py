"""A minimal HTTP/1.1 server answering fixed bytes, in its own process on its own core,
so that the client is what the benchmark measures."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from pathlib import Path

SAMPLE = Path(__file__).parent.parent / "tests" / "samples" / "mavera_meeting_done.json"
LYRA_BODY = json.dumps(
    {
        "type": "lyra_video",
        "id": "meeting_123",
        "password": "",
        "url": "https://app.lyra.so/meeting/abc-def-ghi",
    }
).encode()
MAVERA_BODY = json.dumps(json.loads(SAMPLE.read_text())).encode()


def _response(body: bytes, status: bytes = b"200 OK") -> bytes:
    return (
        b"HTTP/1.1 "
        + status
        + b"\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: keep-alive\r\n\r\n"
        + body
    )


POST_ANSWER = _response(LYRA_BODY)
GET_ANSWER = _response(MAVERA_BODY)


class FixedAnswers(asyncio.Protocol):
    """Answers every request on a keep-alive connection: POST with a Lyra meeting,
    anything else with a full Mavera meeting."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            self.transport.write(POST_ANSWER if head.startswith(b"POST") else GET_ANSWER)


def _serve(port_out: multiprocessing.connection.Connection, core: int | None) -> None:
    if core is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {core})

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(FixedAnswers, "127.0.0.1", 0, backlog=1024)
        port_out.send(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


class RawServer:
    """The server process: ``with RawServer() as srv: srv.url``; ``srv.cpu_seconds()``."""

    def __init__(self, core: int | None = 1) -> None:
        self.core = core

    def __enter__(self) -> RawServer:
        parent, child = multiprocessing.Pipe()
        self.process = multiprocessing.Process(target=_serve, args=(child, self.core), daemon=True)
        self.process.start()
        self.port = parent.recv()
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    def cpu_seconds(self) -> float:
        """User + system CPU the server process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.join(5)
