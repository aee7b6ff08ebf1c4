"""The console's client-profile commands and time.set with a DS3231, on the RP2040 model.

Runs under pytest and on the MicroPython VM (tests/target/run.py). The controller, store, profiles,
console (and the RTC model) are built as stim.app builds them (picostim.consolerig).
"""

import json

from picostim.consolerig import Rig
from stim import supervisor as sv

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List

T = 1767225600
P = '{"id": "C017", "limits_ua": [30000, 30000, 25000, 25000], "screened": 1767225600}'


def _one(replies: "List[Dict[str, Any]]") -> "Dict[str, Any]":
    assert len(replies) == 1, replies
    return replies[0]


def _error(replies: "List[Dict[str, Any]]", *words: str) -> str:
    r = _one(replies)
    assert r["ok"] is False, r
    for w in words:
        assert w in r["error"], (w, r["error"])
    return str(r["error"])


def _put(rig: Rig, profile: str) -> "List[Dict[str, Any]]":
    return rig.ask('{"cmd": "clients.put", "profile": %s}' % profile)


def test_put_get_list_delete_with_the_key_and_the_profile_reaches_flash() -> None:
    rig = Rig()
    rig.ready()
    r = _one(_put(rig, P))
    assert r["ok"] is True and r["profile"]["sessions"] == 0 and r["profile"]["peak_ua"] == [0, 0, 0, 0]
    r = _one(rig.ask('{"cmd": "clients.list"}'))
    assert r["clients"] == [{"id": "C017", "sessions": 0, "screened": T, "last": None}] and r["max"] >= 50
    r = _one(rig.ask('{"cmd": "clients.get", "client": "C017"}'))
    assert r["profile"]["limits_ua"] == [30000, 30000, 25000, 25000]
    rig.tick(5)  # idle: the store flushes
    assert b'"C017"' in rig.fs.read_bytes("clients.json")
    r = _one(rig.ask('{"cmd": "clients.delete", "client": "C017"}'))
    assert r == {"ok": True, "deleted": "C017"}
    _error(rig.ask('{"cmd": "clients.get", "client": "C017"}'), "no client")
    _error(rig.ask('{"cmd": "clients.delete", "client": "C017"}'), "no client")


def test_put_and_delete_need_the_key_and_change_nothing_without_it() -> None:
    rig = Rig()
    rig.ready()
    _one(_put(rig, P))
    rig.key(False)
    rig.tick(10)
    _error(_put(rig, P.replace("30000", "1000")), "key")
    _error(rig.ask('{"cmd": "clients.delete", "client": "C017"}'), "key")
    r = _one(rig.ask('{"cmd": "clients.get", "client": "C017"}'))  # reading needs no key
    assert r["profile"]["limits_ua"][0] == 30000
    assert rig.ctl.sup.state == sv.SAFE


def test_a_malformed_profile_is_refused_with_the_field_named_and_changes_nothing() -> None:
    rig = Rig()
    rig.ready()
    _one(_put(rig, P))
    assert rig.clients is not None
    before = rig.clients.encode()
    for bad, field in (
        ('{"id": "anna", "limits_ua": [1, 2, 3, 4]}', "profile.id:"),
        ('{"id": "C017", "limits_ua": [1, 2, 3]}', "profile.limits_ua:"),
        ('{"id": "C017", "limits_ua": [1, 2, 3, 999999]}', "profile.limits_ua[3]:"),
        ('{"id": "C017", "limits_ua": [1, 2, 3, 4], "screened": "today"}', "profile.screened:"),
        ('{"id": "C017", "limits_ua": [1, 2, 3, 4], "dob": "1970-01-01"}', "profile.dob: unknown field"),
        ('[1]', "profile: expected a JSON object"),
    ):
        _error(_put(rig, bad), field)
    _error(rig.ask('{"cmd": "clients.get", "client": 17}'), "client: expected")
    _error(rig.ask('{"cmd": "clients.put", "profile": {}, "x": 1}'), "unknown field")
    assert rig.clients.encode() == before


def test_profiles_do_not_change_while_a_session_runs_and_nothing_starts_one() -> None:
    rig = Rig()
    rig.ready()
    _one(_put(rig, P))
    rig.press("start_pause")
    assert rig.ctl.sup.state == sv.RUNNING
    _error(_put(rig, P), "a session runs")
    _error(rig.ask('{"cmd": "clients.delete", "client": "C017"}'), "a session runs")
    rig.ask('{"cmd": "stop"}')
    assert rig.ctl.sup.state != sv.RUNNING
    for line in ('{"cmd": "clients.list"}', '{"cmd": "clients.get", "client": "C017"}', "{\"cmd\": \"clients.put\", "
                 "\"profile\": " + P + "}"):
        rig.ask(line)
        assert rig.ctl.sup.state != sv.RUNNING and max(rig.ctl.sup.level_ua) == 0


def test_a_board_without_a_store_has_no_profiles() -> None:
    rig = Rig(store=False)
    rig.ready()
    _error(rig.ask('{"cmd": "clients.list"}'), "no client profiles")


def test_time_set_sets_the_rtc_and_the_clock_keeps_it() -> None:
    rig = Rig(rtc=True)
    assert rig.rtc is not None and rig.rtc_chip is not None
    assert rig.rtc.read() is None  # first power: not valid
    r = _one(rig.ask('{"cmd": "time.set", "epoch_s": %d}' % T))
    assert r == {"ok": True, "wall": T, "rtc": True}
    assert not rig.rtc_chip.osf
    now = rig.rtc.read()
    assert now is not None and T <= now <= T + 1
    rig.rtc_chip.power_off(4 * 86400)
    now = rig.rtc.read()
    assert now is not None and T + 4 * 86400 <= now <= T + 4 * 86400 + 1


def test_time_set_changes_nothing_if_the_rtc_does_not_answer() -> None:
    rig = Rig(rtc=True)
    rig.tick(5)
    del rig.chip.i2c_devices[(0, 0x68)]  # the chip fell off the bus
    _error(rig.ask('{"cmd": "time.set", "epoch_s": %d}' % T), "rtc:", "not set")
    rec = rig.ctl.recorder
    assert rec is not None and rec.wall(rig.now_ms()) is None


def test_the_reply_to_clients_list_is_json_for_a_full_board() -> None:
    rig = Rig()
    rig.ready()
    assert rig.clients is not None
    for i in range(20):
        rig.clients.put(json.loads(P.replace("C017", "C" + str(i))))
    r = _one(rig.ask('{"cmd": "clients.list"}', ticks=200))
    assert [c["id"] for c in r["clients"]] == sorted("C" + str(i) for i in range(20))
