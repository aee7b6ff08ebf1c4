"""`select` stand-in: MicroPython's select.poll over the model's streams (fakehw.usbcdc).

The runner hands the firmware this module as `select` while it runs (as vtime stands in for
`time`), because CPython's select works on file descriptors and the board's stdin is a model.
Semantics follow extmod/modselect.c: register/modify/unregister, poll() returning a list of
(obj, flags) tuples, ipoll() returning the poll object itself as an iterator over one reused
tuple. A timeout of 0 returns at once; a positive one lets virtual time pass in 1 ms steps until
a stream is ready; -1 waits for ever.
"""

from . import chip as _chip

POLLIN = 0x0001
POLLOUT = 0x0004
POLLERR = 0x0008
POLLHUP = 0x0010

__all__ = ["POLLERR", "POLLHUP", "POLLIN", "POLLOUT", "poll"]


class _Poll:
    def __init__(self) -> None:
        self._objs: list[object] = []
        self._masks: list[int] = []
        self._ready: list[tuple[object, int]] = []
        self._i = 0

    def register(self, obj: object, eventmask: int = POLLIN | POLLOUT) -> None:
        if not hasattr(obj, "_model_poll"):
            raise TypeError("object with stream.ioctl required")
        for i, o in enumerate(self._objs):
            if o is obj:
                self._masks[i] = eventmask
                return
        self._objs.append(obj)
        self._masks.append(eventmask)

    def modify(self, obj: object, eventmask: int) -> None:
        for i, o in enumerate(self._objs):
            if o is obj:
                self._masks[i] = eventmask
                return
        raise OSError(2, "ENOENT")

    def unregister(self, obj: object) -> None:
        for i, o in enumerate(self._objs):
            if o is obj:
                del self._objs[i]
                del self._masks[i]
                return

    def _scan(self) -> "list[tuple[object, int]]":
        out = []
        for i in range(len(self._objs)):
            # POLLERR and POLLHUP are always reported; the USB CDC never raises them.
            o = self._objs[i]
            f = o._model_poll(self._masks[i])  # type: ignore[attr-defined]
            if f:
                out.append((o, f))
        return out

    def _wait(self, timeout: int) -> "list[tuple[object, int]]":
        t = _chip.enter()
        try:
            clock = _chip.current().clock
            waited = 0
            while True:
                ready = self._scan()
                if ready or timeout == 0 or (0 < timeout <= waited):
                    return ready
                clock.advance_to(clock.now_ns() + 1_000_000)
                waited += 1
        finally:
            _chip.leave(t)

    def poll(self, timeout: int = -1) -> "list[tuple[object, int]]":
        return self._wait(timeout)

    def ipoll(self, timeout: int = -1, flags: int = 0) -> "_Poll":
        self._ready = self._wait(timeout)
        self._i = 0
        return self

    def __iter__(self) -> "_Poll":
        return self

    def __next__(self) -> "tuple[object, int]":
        if self._i >= len(self._ready):
            raise StopIteration
        self._i += 1
        return self._ready[self._i - 1]


def poll() -> _Poll:
    return _Poll()
