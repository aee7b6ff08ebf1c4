"""stim.policy: the site policy file, validated like a board file; a bad one gives the strictest policy.

Runs under pytest and under the MicroPython VM (tests/target/run.py).
"""

from _util import expect_raises
from picostim.fakehw.flash import FlashFS
from stim import policy
from stim.policy import STRICTEST, PolicyError
from test_store_files import boot

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _fs_with(text: "Any") -> FlashFS:
    fs = FlashFS()
    fs.write_bytes(policy.POLICY_FILE, text if isinstance(text, bytes) else text.encode())
    return fs


def test_no_file_is_the_defaults_quietly() -> None:
    fs = FlashFS()
    st = boot(fs)
    p, why = policy.load(fs, st)
    assert why is None and p.fields() == policy.defaults().fields()
    assert st.warnings == [] and fs.listdir() == []


def test_a_valid_file_sets_what_it_names_and_defaults_the_rest() -> None:
    fs = _fs_with('{"schema": 1, "min_recovery_h": 120, "anonymous": false, "description": "studio A"}')
    p, why = policy.load(fs, boot(fs))
    assert why is None
    assert p.min_recovery_h == 120 and p.min_recovery_s == 120 * 3600 and p.anonymous is False
    assert p.max_session_s == policy.DEFAULTS["max_session_s"]


def test_every_bad_value_is_refused_with_its_key_named() -> None:
    cases = [
        ('{"schema": 1, "max_session_s": 5000}', "max_session_s: 5000 is out of range 300..3600"),
        ('{"schema": 1, "min_recovery_h": "4d"}', "min_recovery_h: expected an integer, got string"),
        ('{"schema": 1, "novice_ceiling_pct": true}', "novice_ceiling_pct: expected an integer"),
        ('{"schema": 1, "anonymous": 1}', "anonymous: expected true or false"),
        ('{"schema": 1, "max_rise": 5}', "max_rise: unknown key"),
        ('{"max_session_s": 600}', "schema: missing"),
        ('{"schema": 2}', "schema: expected 1"),
        ('[1]', "(root): expected an object"),
        ('{"schema": 1, "max_session_s": 600, "novice_max_session_s": 900}',
         "novice_max_session_s: 900 s is longer than max_session_s 600 s"),
        ('{"schema": 1,', "(json): not valid JSON"),
    ]
    for text, msg in cases:
        e = expect_raises(PolicyError, policy.parse, text)
        assert str(e).startswith(msg), (text, str(e))


def test_a_bad_file_is_kept_aside_and_the_strictest_policy_used() -> None:
    fs = _fs_with('{"schema": 1, "rise_pct": 400}')
    st = boot(fs)
    p, why = policy.load(fs, st)
    assert p is STRICTEST
    assert why is not None and why.startswith("policy.json: rise_pct: 400 is out of range 0..100; strictest")
    assert "kept as policy.json.bad-0" in why
    assert fs.listdir() == ["policy.json.bad-0"]
    assert st.warnings == [why]


def test_binary_garbage_is_a_bad_file_too() -> None:
    fs = _fs_with(b"\xff\xfe\x00junk")
    p, why = policy.load(fs, boot(fs))
    assert p is STRICTEST and why is not None and why.startswith("policy.json: ")


def test_the_strictest_policy_is_at_the_strict_end_of_every_range() -> None:
    f = STRICTEST.fields()
    for k in policy.RANGES:
        lo, hi, strict = policy.RANGES[k]
        assert f[k] == (lo if strict == "lo" else hi), k
    assert f["anonymous"] is False
    # and it is itself a valid policy
    d = dict(f)
    d["schema"] = 1
    assert policy.validate(d).fields() == f


def test_the_defaults_are_a_valid_policy() -> None:
    d = dict(policy.DEFAULTS)
    d["schema"] = 1
    assert policy.validate(d).fields() == policy.defaults().fields()
