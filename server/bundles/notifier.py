"""Wake held long-polls when a device's bundle changes, without holding a worker thread.

Owns ``BundleNotifier``: one asyncio.Event per device that has a waiting poll. A poll takes
the device's current event *before* it checks the bundle, so a change between the check and
the wait is never missed; ``notify`` swaps in a fresh event and sets the old one. Lives on
the server's event loop; ``notify_threadsafe`` may be called from any thread.
"""

from __future__ import annotations

import asyncio


class BundleNotifier:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self.loop: asyncio.AbstractEventLoop | None = None
        self.closing = False  # shutting down: answer held polls now, hold no new ones

    def waiter(self, device_id: str) -> asyncio.Event:
        event = self._events.get(device_id)
        if event is None:
            event = self._events[device_id] = asyncio.Event()
        return event

    def notify(self, device_id: str) -> None:
        event = self._events.pop(device_id, None)
        if event is not None:
            event.set()

    def release_all(self) -> None:
        """On shutdown: every held poll answers at once instead of holding the server up."""
        self.closing = True
        for event in self._events.values():
            event.set()
        self._events.clear()

    def notify_threadsafe(self, device_id: str) -> None:
        if self.loop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.notify, device_id)

    @staticmethod
    async def wait(event: asyncio.Event, timeout_s: float) -> bool:
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
            return True
        except asyncio.TimeoutError:
            return False

    @property
    def waiting_devices(self) -> int:
        return len(self._events)
