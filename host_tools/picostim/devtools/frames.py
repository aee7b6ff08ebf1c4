"""Which firmware functions MicroPython gives a heap frame on every call.

MicroPython's bytecode VM keeps a call's locals and value stack (its "state") on the C stack only if
it fits in 11 machine words (py/objfun.c: VM_MAX_STATE_ON_STACK); a bigger state is allocated on the
heap at every call and freed at its return. That allocation never shows in `gc.mem_alloc()` (it is
freed) nor under `heap_lock()` (the VM falls back to the C stack), yet it costs: ~30 us a call on a
clean heap, and it scans the heap's allocation table past every garbage block, so with garbage
between collections one call took up to ~0.8 ms on emulated silicon (stim4, MicroPython 1.28), and
the loop's busy share crept from 39 % to 66 % over five minutes (issue 12).

This module reads the state size of every function from the .mpy that `mpy-cross -O1` makes of it
(the same compiler and options `picostim deploy` uses):
state bytes = 4 * n_state + 12 * n_exc_stack (32-bit words; an exception-stack entry is 3 words),
where n_state = locals + the deepest value stack. A function on the tick's path must keep that at
44 bytes or less: fewer locals and arguments, shallower expressions, no try block.
"""

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

WORD_BYTES = 4  # RP2040: a 32-bit port
EXC_ENTRY_BYTES = 3 * WORD_BYTES  # mp_exc_stack_t: handler, value-stack pointer, previous exception
STACK_STATE_MAX_BYTES = 11 * WORD_BYTES  # py/objfun.c VM_MAX_STATE_ON_STACK

_MPY_VERSION = 6
_OBJ_TUPLE = 10
_OBJ_STR = 5
_OBJ_BYTES = 6
_OBJ_NO_PAYLOAD = (0, 1, 2, 3, 4)  # fun table, None, False, True, Ellipsis
_CODE_BYTECODE = 0  # the kind in a raw code's header (0 is bytecode; native kinds carry machine code)


@dataclass(frozen=True)
class Frame:
    """One bytecode function's frame, as the VM sizes it at a call."""

    name: str  # its simple name, or "?" where it is one of MicroPython's built-in qstrs
    first_line: int  # the first source line its line table names (its body's first statement)
    n_state: int
    n_exc_stack: int

    @property
    def state_bytes(self) -> int:
        return WORD_BYTES * self.n_state + EXC_ENTRY_BYTES * self.n_exc_stack

    @property
    def on_heap(self) -> bool:
        return self.state_bytes > STACK_STATE_MAX_BYTES


class MpyError(ValueError):
    """The .mpy is not a bytecode-only file of the version this reader knows."""


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise MpyError("truncated .mpy")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def uint(self) -> int:
        v = 0
        while True:
            b = self.byte()
            v = (v << 7) | (b & 0x7F)
            if not b & 0x80:
                return v

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MpyError("truncated .mpy")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def _qstr(r: _Reader) -> Optional[str]:
    n = r.uint()
    if n & 1:
        return None  # one of the firmware's static qstrs: its text is not in the file
    s = r.take(n >> 1).decode("utf-8", "replace")
    r.byte()  # NUL
    return s


def _skip_obj(r: _Reader) -> None:
    kind = r.byte()
    if kind in _OBJ_NO_PAYLOAD:
        return
    n = r.uint()
    if kind == _OBJ_TUPLE:
        for _ in range(n):
            _skip_obj(r)
        return
    r.take(n)
    if kind in (_OBJ_STR, _OBJ_BYTES):
        r.byte()  # NUL


def _uint_at(code: bytes, i: int) -> "tuple[int, int]":
    v = 0
    while True:
        b = code[i]
        i += 1
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            return v, i


def _prelude(code: bytes, qstrs: "list[Optional[str]]") -> Frame:
    """py/bc.h MP_BC_PRELUDE_SIG_DECODE and MP_BC_PRELUDE_SIZE_DECODE, then the source info."""
    i = 0
    z = code[i]
    i += 1
    s = (z >> 3) & 0xF
    e = (z >> 2) & 0x1
    a = z & 0x3
    k = 0
    n = 0
    while z & 0x80:
        z = code[i]
        i += 1
        s |= (z & 0x30) << (2 * n)
        e |= (z & 0x02) << n
        a |= (z & 0x04) << n
        k |= ((z & 0x08) >> 3) << n
        n += 1
    n_state = s + 1
    n_info = 0
    n = 0
    while True:
        z = code[i]
        i += 1
        n_info |= ((z & 0x7E) >> 1) << (6 * n)
        n += 1
        if not z & 0x80:
            break
    info_end = i + n_info
    name_idx, i = _uint_at(code, i)
    for _ in range(a + k):
        _idx, i = _uint_at(code, i)
    line = 1
    while i < info_end:  # py/bc.h mp_bytecode_get_source_line: the line of bytecode offset 0
        c = code[i]
        if not c & 0x80:
            b = c & 0x1F
            ln = c >> 5
            i += 1
        else:
            b = c & 0xF
            ln = ((c << 4) & 0x700) | code[i + 1]
            i += 2
        if b:
            break
        line += ln
    name = qstrs[name_idx] if name_idx < len(qstrs) else None
    return Frame(name or "?", line, n_state, e)


def _raw_code(r: _Reader, qstrs: "list[Optional[str]]", out: "list[Frame]") -> None:
    kind_len = r.uint()
    if kind_len & 3 != _CODE_BYTECODE:
        raise MpyError("native code in the .mpy: compile without -march to read its frames")
    has_children = bool(kind_len & 4)
    code = r.take(kind_len >> 3)
    out.append(_prelude(code, qstrs))
    if has_children:
        for _ in range(r.uint()):
            _raw_code(r, qstrs, out)


def frames_of_mpy(data: bytes) -> "list[Frame]":
    """Every function of a bytecode .mpy (mpy v6, as MicroPython 1.20 and later write it); the
    module's own top-level code first."""
    r = _Reader(data)
    if r.byte() != ord("M") or r.byte() != _MPY_VERSION:
        raise MpyError("not an .mpy of version %d" % _MPY_VERSION)
    r.byte()  # feature flags and sub-version
    r.byte()  # small-int bits
    n_qstr = r.uint()
    n_obj = r.uint()
    qstrs = [_qstr(r) for _ in range(n_qstr)]
    for _ in range(n_obj):
        _skip_obj(r)
    out: list[Frame] = []
    _raw_code(r, qstrs, out)
    return out


def frames_of_source(path: "str | Path", mpy_cross: "Optional[list[str]]" = None) -> "list[Frame]":
    """Compile one firmware file as `picostim deploy` does (mpy-cross -O1) and read its frames."""
    if mpy_cross is None:
        from picostim.deploy import mpy_cross_cmd

        mpy_cross = mpy_cross_cmd()
    src = Path(path)
    with tempfile.TemporaryDirectory(prefix="picostim-frames-") as tmp:
        out = Path(tmp) / (src.stem + ".mpy")
        proc = subprocess.run([*mpy_cross, "-O1", "-o", str(out), str(src)], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, check=False)
        if proc.returncode != 0:
            raise MpyError("mpy-cross %s: %s" % (src, proc.stdout.strip()))
        return frames_of_mpy(out.read_bytes())


def frame_for(frames: "list[Frame]", name: str, first_line: int, last_line: int) -> Optional[Frame]:
    """The frame of the function CPython knows as `name`, defined on lines first_line..last_line."""
    inside = [f for f in frames[1:] if first_line <= f.first_line <= last_line]
    named = [f for f in inside if f.name == name]
    pick = named or [f for f in inside if f.name == "?"]
    return min(pick, key=lambda f: f.first_line) if pick else None
