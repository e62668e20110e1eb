"""uvicorn's server for ``dbplane serve``, telling the app when a signal begins its
graceful stop.

On SIGINT or SIGTERM uvicorn stops accepting connections and waits for the open requests
to end before it runs the app's shutdown. A long poll on an operation
(``GET /v1/operations/{id}?wait=``) could hold that wait for a minute: told here, the
app answers the long polls at once.
"""

from __future__ import annotations

import asyncio
import signal
import socket
from types import FrameType

import uvicorn

__all__ = ["Server"]


class Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        closing = getattr(self.config.app, "server_closing", None)
        if self._loop is not None and closing is not None and sig in (signal.SIGINT,
                                                                       signal.SIGTERM):
            # a signal handler: the app is told from the event loop, not from here
            self._loop.call_soon_threadsafe(closing)
