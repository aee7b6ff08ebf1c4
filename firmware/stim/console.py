"""The serial console: JSON lines on the USB serial while main.py runs (protocol: docs/console.md).

Pure: it talks to the port through read_into()/writable()/write() and, if it has one, `rx_poll`
(stim.hal.usb_serial on the board, any object with those in tests) and to the controller through its public state,
Controller.request(), add_program()/select_program() and the recorder's store. No clock, no pins.

Rules it keeps:
- It never starts stimulation and never raises intensity. The only intents it sends are STOP
  (always allowed) and SET_LIMIT (only with the supervisor key in; the supervisor checks the key
  again and refuses a raise without it). No command maps to start, pause or +.
- One request at a time, one final reply line per request line: {"ok": true, ...} or
  {"ok": false, "error": "..."}. log.export sends its records first, one {"log": {...}} line each.
  Blank lines get no reply.
- Bad input (malformed JSON, invalid UTF-8, binary bytes, unknown commands or fields, wrong types,
  values out of range, lines over LINE_MAX bytes) gets exactly one error line and changes nothing:
  every handler checks everything before it changes anything.
- Bounded work per tick: at most IN_PER_TICK bytes read, one request handled, OUT_PER_TICK bytes
  written, one LOG_CHUNK of the log read. While a reply is still going out nothing more is read,
  so a host that floods the port is held off by the USB flow control, not buffered here.
- The steady tick with no input and nothing to send allocates nothing (tests/target proves it
  under micropython.heap_lock). Everything else allocates, off that path.
- Status lines (stim.app.status_line) go out through emit(), so they never land inside a reply.
"""

import gc
import json
import sys

from micropython import const

from stim import programs as _programs
from stim import store as _store
from stim import supervisor as sv
from stim.boardspec import type_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional

VERSION = "0.1.0"  # the firmware's version, as `version` reports it
PROTOCOL = 1  # bump when a reply changes incompatibly

LINE_MAX = const(1024)  # bytes in one request line, without its newline
IN_PER_TICK = const(64)  # bytes read from the port per tick
OUT_PER_TICK = const(128)  # bytes written to the port per tick: two USB packets
PACKET = const(64)  # the CDC IN endpoint's packet size (full speed)
LOG_CHUNK = const(256)  # log file bytes read per tick during log.export
EMIT_MAX = const(8)  # status lines waiting to go out; more are dropped (and counted)
ID_MAX = const(32)  # characters of a string request id
NAME_SHOWN = const(32)  # characters of an unknown command name echoed in the error
LIMIT_WAIT_TICKS = const(50)  # the longest limits.set waits for the controller before it replies

EPOCH_MIN = 946684800  # 2000-01-01T00:00:00Z
EPOCH_MAX = 4102444800  # 2100-01-01T00:00:00Z

_COMMON = ("cmd", "id")
# command -> the fields it takes besides cmd and id
FIELDS = {
    "status": (),
    "version": (),
    "board": (),
    "stop": (),
    "programs.list": (),
    "programs.get": ("name",),
    "programs.put": ("program",),
    "limits.get": (),
    "limits.set": ("ch", "ua"),
    "log.export": ("since",),
    "time.set": ("epoch_s",),
    "diag": ("collect",),
    "clients.list": (),
    "clients.get": ("client",),
    "clients.put": ("profile",),
    "clients.delete": ("client",),
}
COMMANDS = tuple(sorted(FIELDS))


class _Always:
    """A poll that always yields once: for ports without `rx_poll`, the idle pass calls read_into()."""

    def ipoll(self, timeout: int) -> "Any":
        return _MAYBE


_MAYBE = (None,)
_ALWAYS = _Always()


class Bad(ValueError):
    """A request the console refuses; str(e) is the reason sent back."""


def _int(req: "Dict[str, Any]", key: str, lo: int, hi: int) -> int:
    """req[key] as an integer lo..hi (true/false are not integers here)."""
    if key not in req:
        raise Bad(key + ": missing (an integer " + str(lo) + ".." + str(hi) + ")")
    v = req[key]
    if type(v) is not int:
        raise Bad(key + ": expected an integer " + str(lo) + ".." + str(hi) + ", got " + type_name(v))
    if v < lo or v > hi:
        raise Bad(key + ": out of range " + str(lo) + ".." + str(hi))
    return v


def _request_id(req: "Dict[str, Any]") -> "Any":
    if "id" not in req:
        return None
    v = req["id"]
    if type(v) is int and -(1 << 31) <= v < (1 << 31):
        return v
    if isinstance(v, str) and len(v) <= ID_MAX:
        return v
    raise Bad("id: an integer or a string of at most " + str(ID_MAX) + " characters")


def packed(line: bytes) -> bytes:
    """line plus its newline, padded with spaces before the newline to whole USB packets.

    JSON ignores the spaces. MicroPython's rp2 port blocks a write of n bytes until n bytes of
    the 256-byte TX FIFO are free, for up to 500 ms (shared/tinyusb/mp_usbd_cdc.c,
    MICROPY_HW_USB_CDC_TX_TIMEOUT), and POLLOUT only says one byte is free. If every write is one
    whole packet, the host takes whole packets, so the free space is always a multiple of a
    packet: POLLOUT then means a packet fits and the write returns at once, even while the host
    has stopped reading (which used to starve the watchdog: issue 12)."""
    n = len(line) + 1
    pad = -n % PACKET
    return line + b" " * pad + b"\n"


class Console:
    """One console on one port, stepped once per tick after the controller's tick."""

    def __init__(self, ctl: "Any", port: "Any", clients: "Any" = None, rtc: "Any" = None,
                 load_clients: "Optional[Callable[[], Any]]" = None) -> None:
        """clients: the board's stim.clients.Clients, or None; load_clients: a function that loads them,
        called at the first clients.* request (so a boot does not pay for it); rtc: the board's
        stim.hal.ds3231.Ds3231 or None."""
        self.ctl = ctl
        self.port = port
        # What the idle pass polls: the port's `rx_poll` (a select.poll with the port's input
        # registered for POLLIN, stim.hal.usb_serial), or, for a port without one, a poll that
        # always says "maybe", so that every pass reads as before.
        self._rx_poll: "Any" = getattr(port, "rx_poll", None) or _ALWAYS
        self.clients = clients
        self._load_clients = load_clients
        self.rtc = rtc
        self.requests = 0  # request lines handled (blank lines not counted)
        self.errors = 0  # error replies sent
        self.dropped = 0  # status lines dropped while the host did not read
        self._line = bytearray(LINE_MAX)
        self._n = 0
        self._overflow = False
        self._rx = bytearray(IN_PER_TICK)
        self._rx_pos = 0
        self._rx_len = 0
        self._out: "List[bytes]" = []  # whole reply lines, each ending in a newline
        self._notes: "List[bytes]" = []  # status lines from emit(): they go first, at a line boundary
        self._cur: "Any" = None  # memoryview of the line being written
        self._pos = 0
        self._now = 0
        # a limits.set waiting for the controller's next tick
        self._lim_ch = -1
        self._lim_ua = 0
        self._lim_seq = 0  # the controller's requests_queued once it took this one
        self._lim_tick = 0  # the controller's tick count when it was queued
        self._lim_id: "Any" = None
        self._export: "Optional[_LogExport]" = None
        self._export_id: "Any" = None
        # Nothing to do but look for input: no request pending, nothing to send, nothing read and
        # not yet handled. Set at the end of each _step(); cleared by what queues work from outside
        # it (handle_line, emit, crashed).
        self._quiet = True
        self._handlers: "Dict[str, Callable[[Dict[str, Any]], Optional[Dict[str, Any]]]]" = {
            "status": self._status,
            "version": self._version,
            "board": self._board,
            "stop": self._stop,
            "programs.list": self._programs_list,
            "programs.get": self._programs_get,
            "programs.put": self._programs_put,
            "limits.get": self._limits_get,
            "limits.set": self._limits_set,
            "log.export": self._log_export,
            "time.set": self._time_set,
            "diag": self._diag,
            "clients.list": self._clients_list,
            "clients.get": self._clients_get,
            "clients.put": self._clients_put,
            "clients.delete": self._clients_delete,
        }

    # -- the tick ----------------------------------------------------------------------------
    def step(self, now_ms: int) -> None:
        """Once per tick, after Controller.tick(). Never raises."""
        try:
            self.step_unguarded(now_ms)
        except Exception as e:  # noqa: BLE001 - a console bug must never stop the tick
            self.crashed(e)

    def step_unguarded(self, now_ms: int) -> None:
        """step() without its guard, for a caller whose own try calls crashed() (stim.app.run).

        The idle pass (`_quiet`: no request pending, nothing to send, no byte read and not yet
        handled) asks the port's poll once, here, and returns when nothing has arrived: ~45 us on
        the emulated RP2040, where the chain of calls down to the port's poll cost ~180 us. A byte
        that is there is read in this same pass, as before."""
        self._now = now_ms
        if self._quiet:
            for _ in self._rx_poll.ipoll(0):
                break
            else:
                return
        self._step()

    def crashed(self, e: Exception) -> None:
        """An exception escaped a step: drop the request, say so, carry on."""
        self._quiet = False
        self._n = 0
        self._overflow = False
        self._lim_ch = -1
        try:
            self._end_export()
            self._reply(None, {"ok": False, "error": "internal: " + repr(e)})
        except Exception:  # noqa: BLE001 - out of memory even for the error line: stay quiet
            self._export = None

    def _step(self) -> None:
        if self._lim_ch >= 0:
            self._limit_result()
        if self._lim_ch < 0 and self._export is None and self._cur is None and not self._out:
            self._receive()
        if self._export is not None and self._cur is None and not self._out:
            self._export_step()
        if self._cur is not None or self._out or self._notes:
            self._send()
        self._quiet = (self._cur is None and not self._out and not self._notes and self._lim_ch < 0
                       and self._export is None and self._rx_pos >= self._rx_len)

    @property
    def busy(self) -> bool:
        """A request is still being answered (a reply going out, a limit or an export pending)."""
        return self._lim_ch >= 0 or self._export is not None or self._cur is not None or len(self._out) > 0

    def emit(self, line: str) -> None:
        """Send a line of its own (a status line) at the next line boundary."""
        self._quiet = False
        if len(self._notes) >= EMIT_MAX:
            self.dropped += 1
            return
        self._notes.append(packed(line.encode()))

    def _receive(self) -> None:
        if self._rx_pos >= self._rx_len:
            self._rx_pos = 0
            self._rx_len = self.port.read_into(self._rx, IN_PER_TICK)
        rx = self._rx
        while self._rx_pos < self._rx_len:
            c = rx[self._rx_pos]
            self._rx_pos += 1
            if c == 10:
                self._end_line()
                return  # one request per tick; the rest of rx waits
            if self._overflow:
                continue
            if self._n >= LINE_MAX:
                self._overflow = True
                continue
            self._line[self._n] = c
            self._n += 1

    def _end_line(self) -> None:
        n = self._n
        self._n = 0
        if self._overflow:
            self._overflow = False
            self.requests += 1
            self._reply(None, {"ok": False, "error": "line too long: more than " + str(LINE_MAX)
                               + " bytes before the newline; discarded"})
            return
        self.handle_line(bytes(self._line[:n]))

    def _send(self) -> None:
        """Whole packets only, each after the port said it has room (stim.hal.usb_serial: a write
        never waits then). Lines are padded to whole packets (packed()), so the board's TX FIFO
        always holds whole packets, and room for one byte is room for a packet."""
        budget = OUT_PER_TICK
        while budget > 0:
            if self._cur is None:
                if self._notes:
                    self._cur = memoryview(self._notes.pop(0))
                elif self._out:
                    self._cur = memoryview(self._out.pop(0))
                else:
                    return
                self._pos = 0
            if not self.port.writable():
                return  # the host is not reading: the rest waits, status lines beyond EMIT_MAX are dropped
            cur = self._cur
            self.port.write(cur[self._pos:self._pos + PACKET])
            self._pos += PACKET
            budget -= PACKET
            if self._pos >= len(cur):
                self._cur = None

    def _reply(self, rid: "Any", d: "Dict[str, Any]") -> None:
        if rid is not None:
            d["id"] = rid
        if not d.get("ok", True):
            self.errors += 1
        self._out.append(packed(json.dumps(d).encode()))

    # -- one request line --------------------------------------------------------------------
    def handle_line(self, raw: bytes) -> "Optional[Dict[str, Any]]":
        """Handle one line (without its newline) and queue its reply, which is also returned.

        None: a blank line (no reply), or a request whose reply comes later (limits.set after
        the next tick, log.export after its records)."""
        self._quiet = False  # a reply, a limit or an export may be pending now (_step() looks again)
        text = raw.strip()
        if not text:
            return None
        self.requests += 1
        rid = None
        try:
            try:
                s = str(text, "utf-8")
            except Exception:  # noqa: BLE001 - UnicodeError; MicroPython and CPython differ in type
                raise Bad("not UTF-8 text") from None
            try:
                req = json.loads(s)
            except Exception:  # noqa: BLE001 - ValueError, or RecursionError on deep nesting
                raise Bad("not JSON; send one object per line, e.g. {\"cmd\": \"status\"}") from None
            if not isinstance(req, dict):
                raise Bad("expected a JSON object, e.g. {\"cmd\": \"status\"}; got " + type_name(req))
            rid = _request_id(req)
            cmd = req.get("cmd")
            if not isinstance(cmd, str):
                raise Bad("cmd: missing, or not a string; commands: " + ", ".join(COMMANDS))
            fields = FIELDS.get(cmd)
            if fields is None:
                raise Bad("unknown command " + json.dumps(cmd[:NAME_SHOWN]) + "; commands: " + ", ".join(COMMANDS))
            for k in req:
                if k not in fields and k not in _COMMON:
                    raise Bad(cmd + ": unknown field " + json.dumps(str(k)[:NAME_SHOWN]))
            d = self._handlers[cmd](req)
        except Bad as e:
            d = {"ok": False, "error": str(e)}
        except Exception as e:  # noqa: BLE001 - nothing escapes into the tick
            d = {"ok": False, "error": "internal: " + repr(e)}
        if d is None:
            if self._lim_ch >= 0:
                self._lim_id = rid
            else:
                self._export_id = rid
            return None
        self._reply(rid, d)
        return d

    # -- helpers -----------------------------------------------------------------------------
    def _store(self) -> "Any":
        rec = self.ctl.recorder
        if rec is None:
            raise Bad("no store on this board: nothing can be saved or read back")
        return rec.store

    def _ch(self, req: "Dict[str, Any]") -> int:
        return _int(req, "ch", 1, self.ctl.n) - 1

    # -- commands ----------------------------------------------------------------------------
    def _status(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        ctl = self.ctl
        sup = ctl.sup
        n = ctl.n
        rec = ctl.recorder
        return {
            "ok": True,
            "state": sv.STATE_NAMES[sup.state],
            "fault": sup.fault,
            "alert": sup.alert,
            "end": sup.end_reason,
            "key": sup.key,
            "estop": not sup.estop_released,
            "program": ctl.program.name if ctl.program is not None else None,
            "session_ms": sup.session_ms,
            "session_limit_ms": sup.session_limit_ms,
            "level_ua": list(sup.level_ua),
            "limit_ua": list(sup.limit_ua),
            "cap_ua": [sup.cap_ua(c) for c in range(n)],
            "t_ms": self._now,
            "wall": rec.wall(self._now) if rec is not None else None,
            "warnings": list(rec.store.warnings) if rec is not None else [],
        }

    def _version(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        impl = sys.implementation
        v = impl.version
        return {"ok": True, "firmware": VERSION, "protocol": PROTOCOL,
                "impl": impl.name, "impl_version": str(v[0]) + "." + str(v[1]) + "." + str(v[2]),
                "machine": getattr(impl, "_machine", sys.platform)}

    def _diag(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        # Read-only figures for the bench. "collect": true runs a collection first (a pause of a
        # few ms here, between ticks), so mem_alloc is then the live heap.
        collect = req.get("collect", False)
        if type(collect) is not bool:
            raise Bad("collect: expected true or false, got " + type_name(collect))
        if collect:
            gc.collect()
        alloc = getattr(gc, "mem_alloc", None)  # MicroPython only
        free = getattr(gc, "mem_free", None)
        return {"ok": True, "mem_alloc": alloc() if alloc else None, "mem_free": free() if free else None,
                "ticks": self.ctl.ticks, "t_ms": self._now, "requests": self.requests, "dropped": self.dropped}

    def _board(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        b = self.ctl.board
        sup = self.ctl.sup
        chans = []
        for c in range(len(b.channels)):
            chans.append({"name": b.channels[c].name, "max_ua": sup.channel_max_ua[c]})
        return {"ok": True, "name": b.name, "description": b.description, "channels": chans,
                "board_max_ua": sup.board_max_ua, "ramp_ua_per_s": sup.ramp_ua_per_s,
                "max_session_s": b.limits.max_session_s, "amplitude": b.amplitude.driver}

    def _stop(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        sup = self.ctl.sup
        was = sup.state == sv.RUNNING or sup.state == sv.PAUSED
        self.ctl.request(sv.STOP)
        return {"ok": True, "ended": was, "state": sv.STATE_NAMES[sup.state]}

    def _programs_list(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        builtin = _programs.names()
        out = []
        for p in self.ctl.programs:
            out.append({"name": p.name, "builtin": p.name in builtin})
        prog = self.ctl.program
        return {"ok": True, "programs": out, "selected": prog.name if prog is not None else None}

    def _programs_get(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        name = req.get("name")
        if not isinstance(name, str):
            raise Bad("name: expected a string, got " + type_name(name))
        for p in self.ctl.programs:
            if p.name == name:
                return {"ok": True, "program": p.to_dict(), "builtin": name in _programs.names()}
        raise Bad("no program named " + json.dumps(name[:NAME_SHOWN]))

    def _programs_put(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        ctl = self.ctl
        d = req.get("program")
        if not isinstance(d, dict):
            raise Bad("program: expected a JSON object, got " + type_name(d))
        name = d.get("name", _programs.DEFAULTS["name"])
        if not _store.valid_name(name):
            raise Bad("program.name: 1.." + str(_store.NAME_MAX) + " letters, digits, _ or -")
        if name in _programs.names():
            raise Bad("program.name: " + name + " is a built-in program; choose another name")
        try:
            prog = _programs.validate(d, ctl.n)
        except ValueError as e:
            raise Bad("program." + str(e)) from None
        sup = ctl.sup
        if (sup.state == sv.RUNNING or sup.state == sv.PAUSED) and ctl.program is not None \
                and ctl.program.name == name:
            raise Bad("program " + name + " runs now; put it again after the session")
        st = self._store()
        try:
            st.put_program(name, d)
        except ValueError as e:
            raise Bad(str(e)) from None
        ctl.add_program(prog)
        applied = True
        if ctl.program is not None and ctl.program.name == name:
            applied = ctl.select_program(ctl.program_index)  # the selected program: use the new shape
        return {"ok": True, "name": name, "applied": applied}

    def _limits_get(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        sup = self.ctl.sup
        return {"ok": True, "limit_ua": list(sup.limit_ua), "max_ua": list(sup.channel_max_ua), "key": sup.key}

    def _limits_set(self, req: "Dict[str, Any]") -> "Optional[Dict[str, Any]]":
        ctl = self.ctl
        sup = ctl.sup
        c = self._ch(req)
        ua = _int(req, "ua", 0, sup.channel_max_ua[c])
        if not sup.key:
            raise Bad("limits.set needs the supervisor key in")
        if sup.limit_ua[c] == ua:
            return {"ok": True, "ch": c + 1, "limit_ua": ua}
        if not ctl.request(sv.SET_LIMIT, c, ua):
            raise Bad("busy: the controller's queue is full; try again")
        self._lim_ch = c
        self._lim_ua = ua
        self._lim_seq = ctl.requests_queued
        self._lim_tick = ctl.ticks
        return None

    def _limit_result(self) -> None:
        ctl = self.ctl
        late = ctl.ticks - self._lim_tick >= LIMIT_WAIT_TICKS
        if ctl.requests_done < self._lim_seq and not late:
            return  # still queued: the panel's intents take the ticks first
        c = self._lim_ch
        self._lim_ch = -1
        sup = ctl.sup
        d: "Dict[str, Any]"
        if ctl.requests_done < self._lim_seq:  # never stall the console (a stop line may be next)
            d = {"ok": False, "error": "limits.set still queued after " + str(LIMIT_WAIT_TICKS)
                 + " ticks; check with limits.get", "limit_ua": sup.limit_ua[c]}
        elif sup.limit_ua[c] == self._lim_ua:
            d = {"ok": True, "ch": c + 1, "limit_ua": self._lim_ua}
        else:
            why = sv.ALERT_NO_KEY_LIMIT if sup.alert == sv.ALERT_NO_KEY_LIMIT else "limit unchanged"
            d = {"ok": False, "error": "limits.set refused by the supervisor: " + why, "limit_ua": sup.limit_ua[c]}
        self._reply(self._lim_id, d)
        self._lim_id = None

    def _log_export(self, req: "Dict[str, Any]") -> "Optional[Dict[str, Any]]":
        since = _int(req, "since", 0, (1 << 31) - 1) if "since" in req else 0
        st = self._store()
        self._export = _LogExport(st.fs, since)
        return None

    def _export_step(self) -> None:
        ex = self._export
        if ex is None:
            return
        if ex.step(self._emit_record):
            st = self.ctl.recorder.store if self.ctl.recorder is not None else None
            self._end_export()
            self._reply(self._export_id, {"ok": True, "records": ex.sent, "skipped": ex.bad,
                                          "in_ram": st.pending() if st is not None else 0})
            self._export_id = None

    def _emit_record(self, d: "Dict[str, Any]") -> None:
        self._out.append(packed(json.dumps({"log": d}).encode()))

    def _end_export(self) -> None:
        ex = self._export
        self._export = None
        if ex is not None:
            ex.close()

    def _time_set(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        epoch = _int(req, "epoch_s", EPOCH_MIN, EPOCH_MAX - 1)
        rec = self.ctl.recorder
        if rec is None and self.rtc is None:
            raise Bad("no store on this board: there is no log to date")
        if self.rtc is not None:  # first: if the clock does not take it, nothing changes
            try:
                self.rtc.set(epoch)
            except OSError as e:
                raise Bad("rtc: the clock did not answer (" + _store._errname(e) + "); time not set") from None
        if rec is not None:
            rec.set_wall(epoch, self._now)
        return {"ok": True, "wall": epoch, "rtc": self.rtc is not None}

    # -- client profiles (docs/clients.md) ---------------------------------------------------------
    def _clients(self) -> "Any":
        if self.clients is None and self._load_clients is not None:
            load = self._load_clients
            self._load_clients = None
            self.clients = load()
        if self.clients is None:
            raise Bad("no client profiles on this board (no store)")
        return self.clients

    def _client_id(self, req: "Dict[str, Any]") -> str:
        v = req.get("client")
        if not isinstance(v, str):
            raise Bad("client: expected a profile id (a string), got " + type_name(v))
        return v

    def _may_change_clients(self, what: str) -> None:
        sup = self.ctl.sup
        if not sup.key:
            raise Bad(what + " needs the supervisor key in")
        if sup.state == sv.RUNNING or sup.state == sv.PAUSED:
            raise Bad(what + ": a session runs; profiles change between sessions")

    def _clients_list(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        cl = self._clients()
        out = []
        for pid in cl.ids():
            p = cl.profiles[pid]
            out.append({"id": pid, "sessions": p.sessions, "screened": p.screened, "last": p.last})
        return {"ok": True, "clients": out, "max": cl.capacity}

    def _clients_get(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        pid = self._client_id(req)
        p = self._clients().get(pid)
        if p is None:
            raise Bad("no client " + json.dumps(pid[:NAME_SHOWN]))
        return {"ok": True, "profile": p.fields()}

    def _clients_put(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        cl = self._clients()
        d = req.get("profile")
        if not isinstance(d, dict):
            raise Bad("profile: expected a JSON object, got " + type_name(d))
        self._may_change_clients("clients.put")
        try:
            p = cl.put(d)  # checks everything before it changes anything
        except ValueError as e:
            raise Bad("profile." + str(e)) from None
        return {"ok": True, "profile": p.fields()}

    def _clients_delete(self, req: "Dict[str, Any]") -> "Dict[str, Any]":
        cl = self._clients()
        pid = self._client_id(req)
        self._may_change_clients("clients.delete")
        if not cl.delete(pid):
            raise Bad("no client " + json.dumps(pid[:NAME_SHOWN]))
        return {"ok": True, "deleted": pid}


class _LogExport:
    """Reads log.1 then log.0 LOG_CHUNK bytes per step and hands over each intact record once.

    Records are CRC-checked (stim.store.decode_record); a damaged line is counted in `bad`.
    Sequence numbers only go up: a record at or below the last one sent is skipped, so a log
    rotation during the export never sends a record twice.
    """

    def __init__(self, fs: "Any", since: int) -> None:
        self.fs = fs
        self.sent = 0
        self.bad = 0
        self._last = since - 1
        self._files = (_store.LOG_OLD, _store.LOG_NEW)
        self._fi = 0
        self._f: "Any" = None
        self._tail = b""

    def step(self, emit: "Callable[[Dict[str, Any]], None]") -> bool:
        """Read one chunk; emit its records. True when the whole log has been read."""
        if self._f is None:
            if self._fi >= len(self._files):
                return True
            try:
                self._f = self.fs.open(self._files[self._fi], "rb")
            except OSError:
                self._fi += 1
                return False
        chunk = self._f.read(LOG_CHUNK)
        if not chunk:
            self.close()
            self._fi += 1
            tail = self._tail
            self._tail = b""
            self._record(tail, emit)
            return False
        tail = self._tail + chunk
        start = 0
        while True:
            j = tail.find(b"\n", start)
            if j < 0:
                break
            self._record(tail[start:j], emit)
            start = j + 1
        tail = tail[start:]
        if len(tail) > _store.FILE_MAX_BYTES:  # no newline in sight: garbage
            self.bad += 1
            tail = b""
        self._tail = tail
        return False

    def _record(self, line: bytes, emit: "Callable[[Dict[str, Any]], None]") -> None:
        if not line.strip():
            return
        try:
            v, d = _store.decode_record(line)
        except Exception:  # noqa: BLE001 - a damaged line is counted, never trusted
            self.bad += 1
            return
        if v != _store.LOG_VERSION:
            self.bad += 1
            return
        n = d.get("n")
        if type(n) is int:
            if n <= self._last:
                return
            self._last = n
        emit(d)
        self.sent += 1

    def close(self) -> None:
        f = self._f
        self._f = None
        if f is not None:
            try:
                f.close()
            except OSError:
                pass
