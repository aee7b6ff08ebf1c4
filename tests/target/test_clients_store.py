"""stim.clients: profiles on the flash model, through the store's atomic writes.

Runs under pytest and under the MicroPython VM (tests/target/run.py).
"""

from _util import expect_raises
from picostim.fakehw.flash import FlashFS
from stim import clients
from stim.clients import PROFILES_MAX, Clients, ProfileError
from test_store_files import MAX_UA, boot, flush_all

T0 = 1767225600


def open_clients(fs: FlashFS) -> "Clients":
    return Clients(boot(fs), 2, MAX_UA)


def saved(n: int = 3) -> FlashFS:
    fs = FlashFS()
    c = open_clients(fs)
    for i in range(n):
        c.put({"id": "C" + str(i), "limits_ua": [10_000 + i, 20_000 + i], "program": "lbp", "screened": T0})
    flush_all(c.store)
    assert c.warning is None and c.store.warnings == []
    return fs


def test_no_file_means_no_profiles_and_nothing_written() -> None:
    fs = FlashFS()
    c = open_clients(fs)
    assert c.profiles == {} and c.warning is None
    assert flush_all(c.store) == 0 and fs.listdir() == []


def test_profiles_survive_a_reboot_and_a_session_updates_the_history() -> None:
    fs = saved()
    c = open_clients(fs)
    assert c.ids() == ["C0", "C1", "C2"]
    assert c.record_session("C1", T0 + 600, [9_000, 8_000])
    flush_all(c.store)
    p = open_clients(fs).get("C1")
    assert p is not None
    assert p.fields() == {"id": "C1", "limits_ua": [10_001, 20_001], "program": "lbp", "screened": T0,
                          "sessions": 1, "last": T0 + 600, "peak_ua": [9_000, 8_000]}
    assert fs.listdir() == ["clients.json"]


def test_nothing_is_written_while_the_outputs_run() -> None:
    fs = FlashFS()
    c = open_clients(fs)
    c.put({"id": "C9", "limits_ua": [1, 2]})
    assert c.store.flush(False) == 0 and fs.listdir() == []
    assert c.store.flush(True) == 1 and fs.listdir() == ["clients.json"]


def test_deleting_the_last_profile_removes_the_file() -> None:
    fs = saved(1)
    c = open_clients(fs)
    assert c.delete("C0") and not c.delete("C0")
    flush_all(c.store)
    assert fs.listdir() == []


def test_a_malformed_profile_is_refused_with_the_field_named_and_changes_nothing() -> None:
    fs = saved()
    c = open_clients(fs)
    before = c.encode()
    cases = [
        ({"id": "anna", "limits_ua": [1, 2]}, "id: "),
        ({"id": "C1", "limits_ua": [1]}, "limits_ua: expected a list of 2"),
        ({"id": "C1", "limits_ua": [1, -2]}, "limits_ua[1]: expected a current"),
        ({"id": "C1", "limits_ua": [1, 90_000]}, "limits_ua[1]: 90000 uA is above the board's channel maximum"),
        ({"id": "C1", "limits_ua": [1, 2], "screened": 12}, "screened: expected epoch seconds"),
        ({"id": "C1", "limits_ua": [1, 2], "sessions": -1}, "sessions: expected an integer"),
        ({"id": "C1", "limits_ua": [1, 2], "name": "Anna"}, "name: unknown field"),
        ({"id": "C1", "limits_ua": [1, 2], "peak_ua": [1, True]}, "peak_ua[1]: expected a current"),
        ({"id": "C1"}, "limits_ua: missing"),
    ]
    for d, msg in cases:
        e = expect_raises(ProfileError, c.put, d)
        assert str(e).startswith(msg), (d, str(e))
    assert c.encode() == before and c.store.pending() == 0


def test_at_least_fifty_profiles_fit_and_one_more_than_the_maximum_is_refused() -> None:
    fs = FlashFS()
    c = open_clients(fs)
    for i in range(PROFILES_MAX):
        c.put({"id": "P" + str(i), "limits_ua": [50_000, 80_000], "program": "lower-back-1", "screened": T0,
               "sessions": 100, "last": T0, "peak_ua": [50_000, 80_000]})
    assert PROFILES_MAX >= 50
    e = expect_raises(ProfileError, c.put, {"id": "X1", "limits_ua": [1, 2]})
    assert str(e).startswith("id: already")
    flush_all(c.store)
    again = open_clients(fs)
    assert len(again.profiles) == PROFILES_MAX and again.warning is None


def test_a_corrupt_line_loses_that_profile_only_and_the_file_is_kept_aside() -> None:
    fs = saved()
    data = fs.read_bytes("clients.json")
    i = data.find(b'"C1"')
    fs.write_bytes("clients.json", data[:i + 2] + b"X" + data[i + 3:])  # one byte changed: its CRC fails
    c = open_clients(fs)
    assert c.ids() == ["C0", "C2"]
    assert c.warning == "clients.json: 1 corrupt profile skipped; 2 loaded; kept as clients.json.bad-0"
    assert c.warning in c.store.warnings
    flush_all(c.store)  # the intact ones are written back
    assert sorted(fs.listdir()) == ["clients.json", "clients.json.bad-0", "log.0"]  # log.0: the warning
    again = open_clients(fs)
    assert again.ids() == ["C0", "C2"] and again.warning is None


def test_a_line_with_a_valid_crc_but_a_bad_field_is_skipped_with_the_field_named() -> None:
    from stim.store import encode_record

    fs = saved(1)
    fs.write_bytes("clients.json", fs.read_bytes("clients.json")
                   + encode_record(1, {"id": "bob", "limits_ua": [1, 2]}))
    c = open_clients(fs)
    assert c.ids() == ["C0"]
    assert c.warning is not None and "(id: a pseudonym" in c.warning


def test_limits_above_a_new_boards_maximum_are_lowered_on_load() -> None:
    fs = saved(1)
    c = Clients(boot(fs), 2, [5_000, 80_000])
    p = c.get("C0")
    assert p is not None and p.limits_ua == [5_000, 20_000]
    assert c.warning == "clients: limits of C0 above the board's maximum; lowered"


def test_confirming_screening_needs_a_real_date() -> None:
    fs = saved(1)
    c = open_clients(fs)
    assert not c.confirm_screening("C0", 5) and not c.confirm_screening("nope1", T0)
    assert c.confirm_screening("C0", T0 + 1)
    p = c.get("C0")
    assert p is not None and p.screened == T0 + 1


def test_valid_ids() -> None:
    for ok in ("C017", "1", "A-1", "ZZZZZZZ9"):
        assert clients.valid_id(ok), ok
    for bad in ("", "ANNA", "c017", "C 17", "C0170000X", 17, None):
        assert not clients.valid_id(bad), bad
