"""No function the loop calls in a running session gets a heap frame on MicroPython.

MicroPython gives a call of a bytecode function whose locals and value stack exceed 11 words a
frame on the heap, allocated at the call and freed at its return (picostim.devtools.frames). Neither
`gc.mem_alloc()` nor `heap_lock()` sees it, yet every such call scans the heap's allocation table
past the garbage since the last collection: on emulated silicon one call cost 41 us on a clean heap
and up to ~0.8 ms with garbage, and the loop's busy share crept from 39 % to 66 % over five minutes.

The invariant, in words: every firmware function that runs in a tick of a steady session or of a
ramp (the controller's tick, the console's and the display's steps, the main loop's own calls)
keeps its frame on the C stack. Which functions run is traced on the model (CPython, the real
firmware on fakehw); each one's frame size is read from the .mpy that `mpy-cross -O1` makes of
its file, as `picostim deploy` makes it.
"""

import threading
from pathlib import Path
from types import CodeType
from typing import Optional

import pytest
from picostim.devtools import frames as fr
from picostim.fakehw.runner import BOARDS_DIR, FIRMWARE_DIR, BoardRunner
from picostim.sim.world import World
from stim import board as board_mod

MS = 1_000_000
BOARD = BOARDS_DIR / "stim4.json"

# Functions that run on the host VMs only: on the RP2040, ChannelOutputs.commit calls the inline
# assembler of stim.hal.native_io instead.
HOST_ONLY = {("outputs.py", "ChannelOutputs._commit_mem32")}


def _trace_session() -> "dict[str, set[CodeType]]":
    """The firmware functions called in 1.5 s of a ramp (+ held) and in 3 s of a steady session."""
    seen: dict[str, set[CodeType]] = {"ramp": set(), "steady": set()}
    window: list[Optional[str]] = [None]
    fw = str(FIRMWARE_DIR)

    def prof(frame, event, _arg):  # type: ignore[no-untyped-def]
        if event == "call" and window[0] is not None and frame.f_code.co_filename.startswith(fw):
            seen[window[0]].add(frame.f_code)

    threading.setprofile(prof)  # the firmware's thread starts inside BoardRunner()
    try:
        r = BoardRunner(BOARD)
    finally:
        threading.setprofile(None)  # type: ignore[arg-type]
    with r:
        w = World(r.chip, board_mod.load(str(BOARD)))
        w.key(True)
        w.estop(False)
        r.run_for(1000 * MS)
        w.button("start_pause", True)
        r.run_for(100 * MS)
        w.button("start_pause", False)
        w.button("plus", True)
        r.run_for(300 * MS)
        window[0] = "ramp"
        r.run_for(1500 * MS)
        window[0] = None
        w.button("plus", False)
        r.run_for(1000 * MS)
        window[0] = "steady"
        r.run_for(3000 * MS)
        window[0] = None
        assert r.crashes == [] and r.chip.resets == []
        assert "RUNNING" in r.console_out[-1] or any('"RUNNING"' in x for x in r.console_out)
    return seen


@pytest.fixture(scope="module")
def traced() -> "dict[str, set[CodeType]]":
    return _trace_session()


@pytest.mark.parametrize("window", ["steady", "ramp"])
def test_no_function_of_the_running_loop_gets_a_heap_frame(traced: "dict[str, set[CodeType]]",
                                                           window: str) -> None:
    frames_of: dict[str, list[fr.Frame]] = {}
    heap: list[str] = []
    unknown: list[str] = []
    for co in sorted(traced[window], key=lambda c: (c.co_filename, c.co_firstlineno)):
        name = Path(co.co_filename).name
        if (name, co.co_qualname) in HOST_ONLY or name == "native_io.py":
            continue
        if co.co_filename not in frames_of:
            frames_of[co.co_filename] = fr.frames_of_source(co.co_filename)
        last = max((ln for _a, _b, ln in co.co_lines() if ln), default=co.co_firstlineno)
        f = fr.frame_for(frames_of[co.co_filename], co.co_name, co.co_firstlineno, last)
        if f is None:
            unknown.append("%s %s" % (name, co.co_qualname))
        elif f.on_heap:
            heap.append("%s %s: %d bytes (%d words, %d try levels)"
                        % (name, co.co_qualname, f.state_bytes, f.n_state, f.n_exc_stack))
    assert len(traced[window]) > 40, "the trace saw too little of the loop: %d functions" % len(traced[window])
    assert not unknown, "no .mpy frame found for: %s" % unknown
    assert not heap, ("these run every tick and get a heap frame on MicroPython (over %d bytes of locals "
                      "and stack): %s" % (fr.STACK_STATE_MAX_BYTES, heap))


def test_the_frame_reader_sizes_frames_as_the_vm_does(tmp_path: Path) -> None:
    """Sizes read from mpy-cross's output for functions whose frames are known by construction."""
    src = tmp_path / "m.py"
    src.write_text(
        "def big(a, b, c, d, e, f, g, h, i, j, k, l):\n    return a\n\n"
        "class K:\n    def small(self, a):\n        return a\n\n"
        "    def guarded(self, x):\n        try:\n            self.f(x)\n        except Exception as e:\n"
        "            self.g(e)\n")
    got = {f.name: f for f in fr.frames_of_source(src)}
    assert got["big"].n_state == 13 and got["big"].first_line == 2 and got["big"].on_heap
    assert got["small"].n_state == 3 and got["small"].first_line == 6 and not got["small"].on_heap
    # `except ... as e` adds a second exception-stack level (the hidden `del e`).
    assert got["guarded"].n_exc_stack == 2 and got["guarded"].first_line == 9 and got["guarded"].on_heap
    assert fr.frame_for(list(got.values()), "small", 5, 6) is got["small"]


def test_the_frame_reader_refuses_what_it_cannot_read() -> None:
    with pytest.raises(fr.MpyError):
        fr.frames_of_mpy(b"M\x05\x00\x1f")
    with pytest.raises(fr.MpyError):
        fr.frames_of_mpy(b"M\x06\x00\x1f\x02")
