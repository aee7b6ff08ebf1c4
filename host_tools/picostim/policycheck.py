"""`picostim policy check FILE...`: validate site policy files with the firmware's own rules (stim.policy).

Like `picostim board check` (boardcheck.py): the rules live in the code the board runs at boot, and
the host also rejects a key that appears twice in one object. One line per file:

    OK policies/wb-ems.json: sessions <= 1200 s, 96 h between sessions, ...
    FAIL site.json: min_recovery_h: 200 is out of range 24..168

Returns 0 if every file is valid, 1 if any is not, 2 if no file was given. On the board a file
that fails is kept aside and the strictest policy is used (docs/clients.md).
"""

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from picostim.boardcheck import _use_firmware, duplicate_key


def summary(p: Any) -> str:
    return ("sessions <= %d s, %d h between sessions, first %d sessions <= %d s at %d %% of the limits,"
            " ceilings rise <= %d %% or %g mA over the last peak, anonymous sessions %s"
            % (p.max_session_s, p.min_recovery_h, p.novice_sessions, p.novice_max_session_s, p.novice_ceiling_pct,
               p.rise_pct, p.rise_min_ua / 1000, "allowed" if p.anonymous else "need an override"))


def check_file(path: str) -> str:
    _use_firmware()
    from stim import policy

    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as e:
        return f"FAIL {path}: (file): cannot read: {e.strerror or e}"
    except UnicodeDecodeError as e:
        return f"FAIL {path}: (file): not UTF-8 text: {e}"
    if len(text.encode()) > policy.FILE_MAX_BYTES:
        return f"FAIL {path}: (file): larger than {policy.FILE_MAX_BYTES} bytes; the board would not read it"
    try:
        p = policy.parse(text)
    except policy.PolicyError as e:
        return f"FAIL {path}: {e}"
    dup = duplicate_key(text)
    if dup is not None:
        return f"FAIL {path}: (json): key {json.dumps(dup)} appears twice in one object; only the last one would count"
    return f"OK {path}: {summary(p)}"


def run(paths: list[str], out: Callable[[str], object] = print) -> int:
    if not paths:
        out("FAIL: no policy file given")
        return 2
    failed = 0
    for path in paths:
        line = check_file(path)
        if not line.startswith("OK "):
            failed += 1
        out(line)
    return 1 if failed else 0
