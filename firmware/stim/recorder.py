"""Session records and settings for stim.store, from what the supervisor did each tick.

The controller calls observe() once a tick. Nothing here allocates while a
session simply runs: records are built only when a session starts or ends, a
fault latches, or a setting changes, and the store buffers them in RAM until
the outputs are idle (flash writes stall IRQs).
"""

from stim import supervisor as sv
from stim import ticks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional

    from stim.store import Store

# Supervisor end reasons are the store's end reasons (stim.store.END_REASONS).


class Recorder:
    def __init__(self, store: "Store", n: int) -> None:
        self.store = store
        self.n = n
        # The wall clock, once the host sets the time: wall_base + _wall_s epoch seconds at ticks_ms
        # _wall_at_ms. wall_base (the epoch seconds the host sent, about 1.8e9) is above 2**30, a boxed
        # int on the board that any arithmetic with it allocates; so only wall() (called when a record
        # is made, which allocates anyway) adds to it, and each tick advances the small _wall_s.
        self.wall_base: "Optional[int]" = None
        self._wall_s = 0
        self._wall_at_ms = 0
        self._in_session = False
        self._prog = ""
        self._t0 = 0
        self._wall0: "Optional[int]" = None
        self._stim_ms = 0
        self._faults: "List[str]" = []
        self._last_fault: "Optional[str]" = None
        self._last_ms = 0
        self._limits: "List[int]" = [0] * n
        # Whose session starts next (the controller sets them when the dose guard allows a START):
        # the profile's id (None: anonymous) and the profiles (stim.clients), whose history the end updates.
        self.client: "Optional[str]" = None
        self.clients: "Any" = None
        self._client: "Optional[str]" = None

    # -- wall clock ------------------------------------------------------------------------
    def set_wall(self, epoch_s: int, now_ms: int) -> None:
        """The host set the time: remember epoch seconds at now_ms."""
        self.wall_base = epoch_s
        self._wall_s = 0
        self._wall_at_ms = now_ms

    def wall(self, now_ms: int) -> "Optional[int]":
        if self.wall_base is None:
            return None
        return self.wall_base + (self._wall_s + ticks.diff(now_ms, self._wall_at_ms) // 1000)

    # -- each tick -----------------------------------------------------------------------------
    def observe(self, now_ms: int, sup: "sv.Supervisor", program: str, driving: bool) -> None:
        """driving: some channel was driven above 0 this tick (counts as seconds of stimulation)."""
        # ticks.diff is C on the board: these two cost a call only in the tick that has work.
        if self.wall_base is not None and ticks.diff(now_ms, self._wall_at_ms) >= 60_000:
            self._wall_tick(now_ms)
        if self._in_session and driving and 0 < ticks.diff(now_ms, self._last_ms) < 1000:
            self._stim_ms += ticks.diff(now_ms, self._last_ms)  # across the 2**30 wrap too
        self._last_ms = now_ms
        if sup.fault is not None and sup.fault != self._last_fault:
            self._fault(now_ms, sup.fault, sup)
        self._last_fault = sup.fault
        if (sup.state == sv.RUNNING or sup.state == sv.PAUSED) != self._in_session:
            self._edge(now_ms, sup, program)  # a session started or ended: a record (this allocates)
        # (_in_session is now this tick's: no local for it keeps this frame on the stack)
        if not self._in_session and self.store.pending():  # pending() first: an idle flush allocates
            self.store.flush(True)

    # observe() is split so that its frame stays on the stack: a call whose locals and value stack
    # exceed 11 words gets a heap frame every time (picostim.devtools.frames).
    def _wall_tick(self, now_ms: int) -> None:
        w = ticks.diff(now_ms, self._wall_at_ms) // 1000
        if w >= 60:  # re-anchor each minute: tick differences only reach 2**29 ms
            self._wall_s += w  # below 2**30 for 34 years after the time was set
            self._wall_at_ms = ticks.add(self._wall_at_ms, w * 1000)

    def _fault(self, now_ms: int, fault: str, sup: "sv.Supervisor") -> None:
        if self._in_session or sup.state == sv.RUNNING or sup.state == sv.PAUSED:
            if len(self._faults) < 8:
                self._faults.append(fault)
        else:
            self.store.log_fault(fault, now_ms, self.wall(now_ms))

    def _edge(self, now_ms: int, sup: "sv.Supervisor", program: str) -> None:
        if not self._in_session:
            self._in_session = True
            self._prog = program
            self._t0 = now_ms
            self._wall0 = self.wall(now_ms)
            self._stim_ms = 0
            self._faults = []
            self._client = self.client
            return
        self._in_session = False
        fault = sup.fault
        end = sup.end_reason or sv.END_FAULT
        text = fault if end == sv.END_FAULT else None
        if end == sv.END_FAULT and text is None:
            text = "fault"
        for c in range(self.n):
            self._limits[c] = sup.cap_ua(c)
        wall1 = self.wall(now_ms)
        self.store.log_session(self._prog, self._t0, now_ms, self._wall0, wall1,
                               sup.peak_ua, self._limits, self._stim_ms // 1000, end, text, self._faults,
                               self._client)
        if self._client is not None and self.clients is not None:
            # The person's history (sessions, date, peaks): saved at the store's next idle flush.
            self.clients.record_session(self._client, wall1, sup.peak_ua)

    def save_settings(self, limits_ua: "List[int]", program: str) -> None:
        s = self.store.settings.copy()
        changed = s.program != program
        for c in range(self.n):
            if s.limits_ua[c] != limits_ua[c]:
                changed = True
                s.limits_ua[c] = limits_ua[c]
        if changed:
            s.program = program
            self.store.put_settings(s)
