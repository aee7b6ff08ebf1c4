"""Settings, custom programs and the session log on the board's flash.

Files, all in the filesystem root and written only by this module:

    settings.json    one record: limits_ua (per channel), program, display
    prog-NAME.json   one record: name, program (the dict as given)
    log.0, log.1     the session log, one record a line; log.0 is the newer.
                     When log.0 would pass log_max bytes it becomes log.1
                     (the old log.1 goes).
    other files      written whole for other modules by put_file() (clients.json:
                     stim.clients), with the same atomic replace
    X.tmp            a write in progress; removed at boot
    X.bad-N          a file that failed its checks, kept for analysis;
                     at most BAD_MAX of them, the oldest go first

A record is one line of compact JSON whose last member is a CRC32 of the
exact bytes before `,"crc":`, and whose first member is its format version:

    {"v":1,"limits_ua":[20000,20000],"program":"lbp","display":{"contrast":200},"crc":1016411768}

The CRC is checked on the bytes read, never on a re-encoding (key order and
float formatting differ between interpreters). Log records carry "n", a
sequence number that continues across reboots, and "k", their kind:

    session  prog, t0_ms, t1_ms (ticks), wall0, wall1 (epoch s, null if the
             RTC was not set), ch [[peak_ua, limit_ua], ...], stim_s, end
             (completed | stopped | key removed | e-stop | fault), fault (text
             or null), faults (texts seen, at most FAULTS_MAX), nfaults, client
             (the profile's id, null: anonymous)
    fault    t_ms, wall, fault: a fault outside a session
    reset    t_ms, wall, cause: a reset outside a session
    guard    client (id or null), reason (stim.doseguard code), override (true: the
             supervisor overrode the refusal; false: refused), t_ms, wall
    warn     msg: a warning of this store (see below)
    drop     count: records the RAM buffer dropped while it was full

Safety rules this module keeps:

- Whole files are written atomically: write X.tmp, close it, rename it over
  X. littlefs renames atomically, so after a power cut X is either the old or
  the new content. A log record is appended and committed on its own, so a
  cut loses at most the record being written.
- Corrupt, unreadable or unknown-version content is never trusted and never
  raises: the store falls back to the defaults it was given, keeps the bad
  file aside, and adds a reason to `warnings` (the controller shows them; the
  store logs them itself as "warn" records).
- Flash is written only by flush(outputs_idle=True), max_items items a call
  (an item is one file write or one log record), because flash writes stall
  IRQs and the watchdog timeout is short. Until then records wait in a RAM
  buffer of buf_max records; a full buffer drops its oldest non-session
  record and counts it. Constructing a Store may write too (removing *.tmp,
  keeping bad files aside): do it at boot, with the outputs off.
- Filesystem errors (OSError, e.g. ENOSPC on a full flash) never reach the
  caller: a failed flush keeps its items, adds a warning and retries when the
  caller hands the store something new. On ENOSPC it first frees space by
  deleting log.1, then the oldest kept-aside bad file.

`fs` is the filesystem: stim.hal.flashfs.FlashFS on the board,
picostim.fakehw.flash.FlashFS on the host. Pure otherwise: no clock, no pins.
"""

import binascii
import json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple

    class File(Protocol):
        def write(self, data: bytes) -> "Optional[int]": ...

        def read(self, n: int = -1) -> "Any": ...

        def close(self) -> None: ...

    class FS(Protocol):
        def open(self, path: str, mode: str) -> "File": ...

        def rename(self, old: str, new: str) -> None: ...

        def remove(self, path: str) -> None: ...

        def listdir(self, path: str = "") -> "List[str]": ...

        def stat(self, path: str) -> "Tuple[int, ...]": ...

        def statvfs(self, path: str) -> "Tuple[int, ...]": ...


SETTINGS_FILE = "settings.json"
PROG_PREFIX = "prog-"
PROG_SUFFIX = ".json"
LOG_NEW = "log.0"
LOG_OLD = "log.1"
TMP_SUFFIX = ".tmp"
BAD_TAG = ".bad-"

SETTINGS_VERSION = 1
PROGRAM_VERSION = 1
LOG_VERSION = 1

LOG_MAX_BYTES = 8192  # per log file; two files
BUF_MAX = 16  # log records waiting in RAM
WARN_MAX = 8  # warnings kept in `warnings`
BAD_MAX = 4  # kept-aside bad files
FILE_MAX_BYTES = 4096  # settings and program files
PROGRAMS_MAX = 16
NAME_MAX = 24  # custom program names: letters, digits, _ and - (programs.LABEL_MAX long)
TEXT_MAX = 80  # fault and warning texts in records
FAULTS_MAX = 8  # fault texts kept in a session record
_CHUNK = 256  # log files are read this much at a time

END_COMPLETED = "completed"
END_STOPPED = "stopped"
END_KEY_REMOVED = "key removed"
END_ESTOP = "e-stop"
END_FAULT = "fault"
END_REASONS = (END_COMPLETED, END_STOPPED, END_KEY_REMOVED, END_ESTOP, END_FAULT)

ENOENT = 2
ENOSPC = 28
_ERRNO_NAMES = {2: "ENOENT", 5: "EIO", 9: "EBADF", 12: "ENOMEM", 22: "EINVAL", 28: "ENOSPC, flash full",
                30: "EROFS", 84: "EILSEQ"}
_CRC_MARK = b',"crc":'
_NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
_DROP_TAG = "records dropped (buffer full)"


# -- records ------------------------------------------------------------------
def encode_record(version: int, fields: "Dict[str, Any]") -> bytes:
    """One record line: {"v":version,<fields>,"crc":N} and a newline."""
    if "v" in fields or "crc" in fields:
        raise ValueError("record: 'v' and 'crc' are reserved")
    body = json.dumps(fields, separators=(",", ":"))
    head = '{"v":' + str(version)
    if len(body) > 2:
        head += "," + body[1:-1]
    raw = head.encode()
    return raw + _CRC_MARK + str(binascii.crc32(raw)).encode() + b"}\n"


def decode_record(line: bytes) -> "Tuple[int, Dict[str, Any]]":
    """(version, fields) of one record line without its newline; ValueError if it fails a check."""
    i = line.rfind(_CRC_MARK)
    if i < 0 or not line.endswith(b"}"):
        raise ValueError("no CRC")
    digits = line[i + len(_CRC_MARK):-1].decode()
    if not digits or len(digits) > 10 or not digits.isdigit():
        raise ValueError("no CRC")
    if binascii.crc32(line[:i]) != int(digits):
        raise ValueError("CRC mismatch")
    d = json.loads(line.decode())
    if not isinstance(d, dict):
        raise ValueError("not a record")
    d.pop("crc", None)
    v = d.pop("v", None)
    if not _is_int(v):
        raise ValueError("no version")
    return v, d


def _is_int(x: "Any") -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def valid_name(name: "Any") -> bool:
    """A custom program name: 1..NAME_MAX of letters, digits, '_' and '-' (it names a file)."""
    if not isinstance(name, str) or not 0 < len(name) <= NAME_MAX:
        return False
    for c in name:
        if c not in _NAME_CHARS:
            return False
    return True


def _errno(e: BaseException) -> int:
    a = e.args
    return a[0] if a and _is_int(a[0]) else -1


def _errname(e: BaseException) -> str:
    """'ENOSPC, flash full' for an OSError; the message (or type) of anything else."""
    if isinstance(e, OSError):
        code = _errno(e)
        return _ERRNO_NAMES.get(code, "errno " + str(code))
    return str(e) or type(e).__name__


def _why(e: BaseException) -> str:
    """Why a file could not be loaded."""
    return "unreadable (" + _errname(e) + ")" if isinstance(e, OSError) else _errname(e)


def _commit(f: "File", data: bytes) -> None:
    """Write data to the open file f and close it, which commits it; on failure close quietly, raise."""
    try:
        n = f.write(data)
        if n is not None and n != len(data):
            raise OSError(5, "short write")
        f.close()
    except Exception:
        try:
            f.close()
        except Exception:  # noqa: BLE001 - the error that brought us here is the one to report
            pass
        raise


class Settings:
    """What the board remembers: per-channel limits (uA), the last program, display options."""

    def __init__(self, limits_ua: "Sequence[int]", program: "Optional[str]" = None,
                 display: "Optional[Dict[str, int]]" = None) -> None:
        self.limits_ua: "List[int]" = list(limits_ua)
        self.program = program
        self.display: "Dict[str, int]" = dict(display) if display is not None else {}

    def copy(self) -> "Settings":
        return Settings(self.limits_ua, self.program, self.display)

    def fields(self) -> "Dict[str, Any]":
        return {"limits_ua": list(self.limits_ua), "program": self.program, "display": dict(self.display)}

    def __repr__(self) -> str:
        return "Settings(" + repr(self.fields()) + ")"


def settings_from(d: "Dict[str, Any]", defaults: Settings) -> Settings:
    """Settings from a record's fields, shaped like `defaults`; ValueError names the bad field.

    Display options the defaults do not know are dropped; ones the file lacks
    keep their default.
    """
    limits = d.get("limits_ua")
    n = len(defaults.limits_ua)
    if not isinstance(limits, list) or len(limits) != n:
        raise ValueError("limits_ua: not a list of " + str(n) + " limits")
    for x in limits:
        if not _is_int(x) or x < 0:
            raise ValueError("limits_ua: " + repr(x) + " is not a current in uA")
    program = d.get("program")
    if program is not None and (not isinstance(program, str) or not 0 < len(program) <= 32):
        raise ValueError("program: not a program name")
    display = d.get("display")
    if not isinstance(display, dict):
        raise ValueError("display: not an object")
    merged = dict(defaults.display)
    for k in display:
        if k in merged:
            if not _is_int(display[k]):
                raise ValueError("display." + str(k) + ": not an integer")
            merged[k] = display[k]
    return Settings(limits, program, merged)


class Store:
    """The board's persistent state. Construct at boot; see the module docstring.

    Public state: `settings` (a Settings), `programs` (name -> what validate
    returned), `warnings` (the last WARN_MAX reasons, oldest first),
    `warn_count` (warnings since boot, so a caller can spot new ones),
    `dropped` (log records dropped from the full buffer).
    """

    def __init__(self, fs: "FS", defaults: Settings, max_ua: "Optional[Sequence[int]]" = None,
                 validate: "Optional[Callable[[Dict[str, Any]], Any]]" = None,
                 log_max: int = LOG_MAX_BYTES, buf_max: int = BUF_MAX) -> None:
        if max_ua is not None and len(max_ua) != len(defaults.limits_ua):
            raise ValueError("max_ua: one maximum per channel")
        if buf_max < 1 or log_max < 256:
            raise ValueError("buf_max >= 1 and log_max >= 256")
        self.fs = fs
        self.warnings: "List[str]" = []
        self.warn_count = 0
        self.dropped = 0
        self.programs: "Dict[str, Any]" = {}
        self._defaults = defaults.copy()
        self.settings = defaults.copy()
        self._max_ua = list(max_ua) if max_ua is not None else None
        self._validate = validate
        self._log_max = log_max
        self._buf_max = buf_max
        self._buf: "List[Tuple[bool, Dict[str, Any]]]" = []  # (is a session record, fields)
        self._settings_pending: "Optional[bytes]" = None
        self._settings_on_flash: "Optional[bytes]" = None
        self._prog_pending: "Dict[str, Optional[bytes]]" = {}  # name -> record, None: delete
        self._file_pending: "Dict[str, Optional[bytes]]" = {}  # put_file(): path -> content, None: delete
        self._drops_logged = 0
        self._blocked = False  # a flush failed; wait for something new before retrying
        self._fail_code: "Optional[int]" = None  # errno of the failure last warned about
        self._seq = 0
        self._log_size = 0
        self._log_sep = False  # log.0 does not end in a newline: start the next record with one
        try:
            names = fs.listdir()
        except Exception as e:  # noqa: BLE001 - no filesystem: run on defaults, say why
            self._warn("flash: " + _why(e) + "; defaults used, nothing saved")
            return
        self._boot(names)

    # -- boot --------------------------------------------------------------------
    def _boot(self, names: "List[str]") -> None:
        for n in names:
            if n.endswith(TMP_SUFFIX):
                self._remove_quietly(n)  # an interrupted write: the file it was for is intact
        for step in (self._load_settings, self._load_programs, self._scan_log):
            try:
                step(names)
            except Exception as e:  # noqa: BLE001 - a store that cannot load must not stop the board
                self._warn("store: " + _why(e))

    def _load_settings(self, names: "List[str]") -> None:
        if SETTINGS_FILE not in names:
            return  # first boot: defaults, and nothing to report
        try:
            v, d = self._read_record(SETTINGS_FILE)
            if v != SETTINGS_VERSION:
                raise ValueError("version " + str(v) + " unknown")
            s = settings_from(d, self._defaults)
        except Exception as e:  # noqa: BLE001 - corrupt content never crashes the board
            self._reject(SETTINGS_FILE, _why(e), "defaults used")
            return
        self._settings_on_flash = self._encode_settings(s)
        mx = self._max_ua
        if mx is not None:
            for i in range(len(mx)):
                if s.limits_ua[i] > mx[i]:
                    self._warn("settings: channel " + str(i + 1) + " limit " + str(s.limits_ua[i])
                               + " uA above the board's " + str(mx[i]) + " uA; lowered")
                    s.limits_ua[i] = mx[i]
        self.settings = s

    def _load_programs(self, names: "List[str]") -> None:
        for n in names:
            if not (n.startswith(PROG_PREFIX) and n.endswith(PROG_SUFFIX)):
                continue
            name = n[len(PROG_PREFIX):-len(PROG_SUFFIX)]
            try:
                if not valid_name(name):
                    raise ValueError("bad program name")
                v, d = self._read_record(n)
                if v != PROGRAM_VERSION:
                    raise ValueError("version " + str(v) + " unknown")
                if d.get("name") != name:
                    raise ValueError("name does not match the file name")
                prog = d.get("program")
                if not isinstance(prog, dict):
                    raise ValueError("no program")
                self.programs[name] = self._checked(prog)
            except Exception as e:  # noqa: BLE001 - corrupt content never crashes the board
                self._reject(n, _why(e), "program not loaded")

    def _scan_log(self, names: "List[str]") -> None:
        """Find the next sequence number, log.0's size and whether it ends mid-line."""
        last = -1
        seqs: "List[int]" = []
        for path in (LOG_NEW, LOG_OLD):
            if path not in names:
                continue
            try:
                size, ends_nl, bad = self.each_record(path, lambda d: seqs.append(d.get("n", -1)))
            except Exception as e:  # noqa: BLE001 - an unreadable log is kept aside, a new one begins
                self._reject(path, _why(e), "log restarted")
                continue
            if bad:
                self._warn(path + ": " + str(bad) + " corrupt records skipped")
            if path == LOG_NEW:
                self._log_size = size
                self._log_sep = not ends_nl
            for n in seqs:
                if _is_int(n) and n > last:
                    last = n
            if last >= 0:
                break  # log.0 holds the newest records
        self._seq = last + 1

    # -- reading ------------------------------------------------------------------
    def _read_record(self, path: str) -> "Tuple[int, Dict[str, Any]]":
        size = self.fs.stat(path)[6]
        if size > FILE_MAX_BYTES:
            raise ValueError("too large (" + str(size) + " bytes)")
        f = self.fs.open(path, "rb")
        try:
            data = f.read()
        finally:
            f.close()
        if not data or data.find(b"\n") != len(data) - 1:
            raise ValueError("not one record")
        return decode_record(data[:-1])

    def each_record(self, path: str, fn: "Callable[[Dict[str, Any]], Any]",
                    version: int = LOG_VERSION) -> "Tuple[int, bool, int]":
        """Call fn(fields) for each intact record of `version` in path; return (size, ends in newline, bad lines).

        Reads _CHUNK bytes at a time, so a full log never needs a full log's RAM. A line that fails
        its CRC or has another version counts as bad. OSError if path cannot be read.
        """
        size = 0
        bad = 0
        last = b"\n"
        tail = b""
        f = self.fs.open(path, "rb")
        try:
            while True:
                chunk = f.read(_CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                last = chunk[-1:]
                tail += chunk
                start = 0
                while True:
                    j = tail.find(b"\n", start)
                    if j < 0:
                        break
                    bad += self._one_record(tail[start:j], fn, version)
                    start = j + 1
                tail = tail[start:]
                if len(tail) > FILE_MAX_BYTES:  # no newline in sight: garbage
                    bad += 1
                    tail = b""
        finally:
            f.close()
        bad += self._one_record(tail, fn, version)
        return size, last == b"\n", bad

    def _one_record(self, line: bytes, fn: "Callable[[Dict[str, Any]], Any]", version: int) -> int:
        if not line:
            return 0
        try:
            v, d = decode_record(line)
        except Exception:  # noqa: BLE001 - a damaged line is counted, never trusted
            return 1
        if v != version:
            return 1
        fn(d)
        return 0

    def read_log(self) -> "List[Dict[str, Any]]":
        """Every intact record on flash, oldest first (records still in RAM are not included)."""
        out: "List[Dict[str, Any]]" = []
        for path in (LOG_OLD, LOG_NEW):
            try:
                self.each_record(path, out.append)
            except OSError:
                pass
        return out

    def free_bytes(self) -> "Optional[int]":
        """Free space on the flash, or None if the filesystem cannot say."""
        try:
            st = self.fs.statvfs("/")
            return st[0] * st[4]
        except Exception:  # noqa: BLE001 - a status figure, never a reason to fail
            return None

    # -- what the controller hands over ------------------------------------------
    def put_settings(self, s: Settings) -> None:
        """Remember s; it is written at the next idle flush (if it differs from what flash holds)."""
        if len(s.limits_ua) != len(self._defaults.limits_ua):
            raise ValueError("settings: one limit per channel")
        self.settings = s.copy()
        data = self._encode_settings(s)
        self._settings_pending = None if data == self._settings_on_flash else data
        self._blocked = False

    def put_program(self, name: str, program: "Dict[str, Any]") -> None:
        """Validate and keep a custom program; it is written at the next idle flush.

        Raises ValueError (from the validator too) if the name or the program is not acceptable.
        """
        if not valid_name(name):
            raise ValueError("name: 1.." + str(NAME_MAX) + " letters, digits, _ or -")
        if name not in self.programs and len(self.programs) >= PROGRAMS_MAX:
            raise ValueError("name: already " + str(PROGRAMS_MAX) + " custom programs")
        checked = self._checked(program)
        try:
            data = encode_record(PROGRAM_VERSION, {"name": name, "program": program})
        except TypeError as e:
            raise ValueError("program: not JSON (" + str(e) + ")") from e
        if len(data) > FILE_MAX_BYTES:
            raise ValueError("program: longer than " + str(FILE_MAX_BYTES) + " bytes")
        self.programs[name] = checked
        self._prog_pending[name] = data
        self._blocked = False

    def delete_program(self, name: str) -> bool:
        """Forget a custom program (deleted from flash at the next idle flush). False if unknown."""
        if name not in self.programs:
            return False
        del self.programs[name]
        self._prog_pending[name] = None
        self._blocked = False
        return True

    def put_file(self, path: str, data: "Optional[bytes]") -> None:
        """Write data as the whole of path (atomically) at the next idle flush; None deletes path.

        For other modules' files (stim.clients): the same atomic, power-cut safe write, the
        same flush discipline (outputs idle only) and the same handling of a full flash.
        """
        if path == SETTINGS_FILE or path in (LOG_NEW, LOG_OLD) or path.startswith(PROG_PREFIX) \
                or path.endswith(TMP_SUFFIX) or BAD_TAG in path:
            raise ValueError("put_file: " + path + " belongs to the store")
        self._file_pending[path] = data
        self._blocked = False

    def keep_aside(self, path: str) -> "Optional[str]":
        """Rename a bad file to path.bad-N (kept for analysis, at most BAD_MAX); the new name or None."""
        return self._set_aside(path)

    def warn(self, msg: str) -> None:
        """A reason for the panel, also logged as a "warn" record."""
        self._warn(msg)

    def log_session(self, program: str, t0_ms: int, t1_ms: int, wall0: "Optional[int]", wall1: "Optional[int]",
                    peaks_ua: "Sequence[int]", limits_ua: "Sequence[int]", stim_s: int, end: str,
                    fault: "Optional[str]" = None, faults: "Sequence[str]" = (),
                    client: "Optional[str]" = None) -> None:
        """Buffer the record of a session that ended. ValueError for an unknown end reason.

        client: the profile's id (stim.clients), None for an anonymous session."""
        if end not in END_REASONS:
            raise ValueError("end: one of " + ", ".join(END_REASONS))
        if (end == END_FAULT) != (fault is not None):
            raise ValueError("fault: the text is given exactly when the session ended in a fault")
        if len(peaks_ua) != len(limits_ua):
            raise ValueError("peaks_ua and limits_ua: one each per channel")
        ch = []
        for i in range(len(peaks_ua)):
            ch.append([peaks_ua[i], limits_ua[i]])
        texts = []
        for t in faults[:FAULTS_MAX]:
            texts.append(t[:TEXT_MAX])
        self._queue(True, {"k": "session", "prog": program, "t0_ms": t0_ms, "t1_ms": t1_ms, "wall0": wall0,
                           "wall1": wall1, "ch": ch, "stim_s": stim_s, "end": end,
                           "fault": fault[:TEXT_MAX] if fault is not None else None,
                           "faults": texts, "nfaults": len(faults), "client": client})
        self._blocked = False

    def log_guard(self, client: "Optional[str]", reason: str, overridden: bool, t_ms: int,
                  wall: "Optional[int]" = None) -> None:
        """Buffer a record of a dose-guard refusal (overridden False) or of its override by the supervisor.

        Kept like a session record when the buffer is full: an override must never be dropped.
        """
        self._queue(True, {"k": "guard", "client": client, "reason": reason[:TEXT_MAX], "override": overridden,
                           "t_ms": t_ms, "wall": wall})
        self._blocked = False

    def log_fault(self, fault: str, t_ms: int, wall: "Optional[int]" = None) -> None:
        """Buffer a record of a fault outside a session."""
        self._queue(False, {"k": "fault", "t_ms": t_ms, "wall": wall, "fault": fault[:TEXT_MAX]})
        self._blocked = False

    def log_reset(self, cause: str, t_ms: int, wall: "Optional[int]" = None) -> None:
        """Buffer a record of a reset (at boot: "watchdog", "power-on", ...)."""
        self._queue(False, {"k": "reset", "t_ms": t_ms, "wall": wall, "cause": cause[:TEXT_MAX]})
        self._blocked = False

    # -- writing ---------------------------------------------------------------------
    def pending(self) -> int:
        """Items waiting for an idle flush (settings, program files, log records)."""
        n = len(self._buf) + len(self._prog_pending) + len(self._file_pending)
        n += 1 if self._settings_pending is not None else 0
        return n + (1 if self.dropped != self._drops_logged else 0)

    def flush(self, outputs_idle: bool, max_items: int = 1) -> int:
        """Write up to max_items waiting items, only if the outputs are idle. Never raises OSError.

        Returns how many were written. After a failure it writes nothing until
        put_*/delete_program/log_* hands over something new.
        """
        if not outputs_idle or self._blocked:
            return 0
        done = 0
        while done < max_items:
            try:
                if not self._write_one():
                    break
            except Exception as e:  # noqa: BLE001 - a full or failing flash must not stop stimulation control
                self._blocked = True
                code = _errno(e) if isinstance(e, OSError) else -2
                if code != self._fail_code:
                    self._fail_code = code
                    self._warn("flash: write failed (" + _errname(e) + "); "
                               + str(self.pending()) + " items wait in RAM")
                break
            self._fail_code = None
            done += 1
        return done

    def _write_one(self) -> bool:
        data = self._settings_pending
        if data is not None:
            self._with_room(lambda: self._write_file(SETTINGS_FILE, data))
            self._settings_on_flash = data
            self._settings_pending = None
            return True
        for name in self._prog_pending:
            self._write_program(name, self._prog_pending[name])
            del self._prog_pending[name]
            return True
        for path in self._file_pending:
            self._write_other(path, self._file_pending[path])
            del self._file_pending[path]
            return True
        if self.dropped != self._drops_logged:
            self._with_room(lambda: self._append({"k": "drop", "count": self.dropped - self._drops_logged}))
            self._drops_logged = self.dropped
            return True
        if self._buf:
            self._with_room(lambda: self._append(self._buf[0][1]))
            self._buf.pop(0)
            return True
        return False

    def _write_program(self, name: str, data: "Optional[bytes]") -> None:
        path = PROG_PREFIX + name + PROG_SUFFIX
        if data is None:
            self._remove(path)
        else:
            self._with_room(lambda: self._write_file(path, data))

    def _write_other(self, path: str, data: "Optional[bytes]") -> None:
        if data is None:
            self._remove(path)
        else:
            self._with_room(lambda: self._write_file(path, data))

    def _with_room(self, fn: "Callable[[], None]") -> None:
        """fn(); on ENOSPC free some space (old log, then a kept-aside file) and try once more."""
        try:
            fn()
        except OSError as e:
            if _errno(e) != ENOSPC or not self._free_some():
                raise
            fn()

    def _free_some(self) -> bool:
        victims = [LOG_OLD]
        victims.extend(self._bad_files())
        for path in victims:
            try:
                self.fs.remove(path)
            except OSError:
                continue
            self._warn("flash full: removed " + path)
            return True
        return False

    def _write_file(self, path: str, data: bytes) -> None:
        """Atomic replace: write path.tmp, close it, rename it over path."""
        tmp = path + TMP_SUFFIX
        try:
            _commit(self.fs.open(tmp, "wb"), data)
        except Exception:
            self._remove_quietly(tmp)  # frees its blocks; the file it was for is intact
            raise
        self.fs.rename(tmp, path)

    def _append(self, fields: "Dict[str, Any]") -> None:
        """Append one log record to log.0 and commit it; rotate first if log.0 would grow too big."""
        fields["n"] = self._seq
        line = encode_record(LOG_VERSION, fields)
        if self._log_size and self._log_size + len(line) > self._log_max:
            try:
                self.fs.rename(LOG_NEW, LOG_OLD)
            except OSError as e:
                if _errno(e) != ENOENT:
                    raise
            self._log_size = 0
            self._log_sep = False
        data = b"\n" + line if self._log_sep else line
        try:
            _commit(self.fs.open(LOG_NEW, "ab"), data)
        except Exception:
            self._log_sep = True  # whatever reached the file, the next record starts a fresh line
            raise
        self._log_size += len(data)
        self._log_sep = False
        self._seq += 1

    # -- helpers ----------------------------------------------------------------------
    def _encode_settings(self, s: Settings) -> bytes:
        return encode_record(SETTINGS_VERSION, s.fields())

    def _checked(self, program: "Dict[str, Any]") -> "Any":
        return self._validate(program) if self._validate is not None else program

    def _queue(self, session: bool, fields: "Dict[str, Any]") -> None:
        buf = self._buf
        if len(buf) >= self._buf_max:
            i = 0
            while i < len(buf) and buf[i][0]:
                i += 1
            buf.pop(i if i < len(buf) else 0)
            self.dropped += 1
            msg = "log: " + str(self.dropped) + " " + _DROP_TAG
            for j in range(len(self.warnings)):
                if self.warnings[j].endswith(_DROP_TAG):
                    self.warnings[j] = msg  # one counted warning, not one per record
                    break
            else:
                self._note(msg)
        buf.append((session, fields))

    def _note(self, msg: str) -> None:
        self.warn_count += 1
        self.warnings.append(msg)
        if len(self.warnings) > WARN_MAX:
            self.warnings.pop(0)

    def _warn(self, msg: str) -> None:
        """A reason for the panel, also logged as a "warn" record."""
        self._note(msg)
        self._queue(False, {"k": "warn", "msg": msg[:TEXT_MAX]})

    def _reject(self, path: str, why: str, consequence: str) -> None:
        kept = self._set_aside(path)
        self._warn(path + ": " + why + "; " + consequence + ("; kept as " + kept if kept else ""))

    def _bad_files(self) -> "List[str]":
        """Kept-aside files, oldest first."""
        found = []
        for n in self.fs.listdir():
            i = n.rfind(BAD_TAG)
            num = n[i + len(BAD_TAG):] if i > 0 else ""
            if num and num.isdigit():
                found.append((int(num), n))
        found.sort()
        return [n for _num, n in found]

    def _set_aside(self, path: str) -> "Optional[str]":
        """Rename a bad file to path.bad-N (N above every other), keeping at most BAD_MAX."""
        try:
            bad = self._bad_files()
            nxt = 0
            if bad:
                last = bad[-1]
                nxt = int(last[last.rfind(BAD_TAG) + len(BAD_TAG):]) + 1
            while len(bad) >= BAD_MAX:
                self.fs.remove(bad.pop(0))
            new = path + BAD_TAG + str(nxt)
            self.fs.rename(path, new)
        except Exception:  # noqa: BLE001 - the bad file stays where it is and is overwritten later
            return None
        return new

    def _remove(self, path: str) -> None:
        """Remove path; a file that is not there is fine."""
        try:
            self.fs.remove(path)
        except OSError as e:
            if _errno(e) != ENOENT:
                raise

    def _remove_quietly(self, path: str) -> None:
        try:
            self.fs.remove(path)
        except Exception:  # noqa: BLE001 - cleanup only; a leftover is removed at the next boot
            pass
