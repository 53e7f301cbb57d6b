"""python-hl7's asyncio MLLP server on 127.0.0.1 in a thread: the base of the tests' EMR peers.

Subclasses implement ``_handle(reader, writer)``; ``server_kwargs`` adds options such as
``ssl``. The stream limit is raised to 4 MiB, as real EMR engines accept large messages.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import hl7.mllp

from tests.peers import free_port

__all__ = ["Hl7ServerThread"]


class Hl7ServerThread:
    """Start the server in ``__init__`` (after the subclass set its own fields)."""

    def __init__(self, name: str = "hl7-peer", **server_kwargs: Any) -> None:
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self._server_kwargs = server_kwargs
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=name)
        self._thread.start()
        assert self._ready.wait(5), "python-hl7 MLLP server did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(
            hl7.mllp.start_hl7_server(
                self._handle,
                "127.0.0.1",
                self.port,
                encoding="utf-8",
                limit=4 * 1024 * 1024,
                **self._server_kwargs,
            )
        )
        self._ready.set()
        self.loop.run_forever()

    async def _handle(self, reader: Any, writer: Any) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Stop the server, cancel its connections and end the thread."""

        async def stop() -> None:
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.server.wait_closed()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        self.loop.close()
