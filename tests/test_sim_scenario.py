"""Scenario files: parsing (good and bad lines), and what each action does to the simulated board."""

import io
import json
from pathlib import Path

import pytest
from picostim.fakehw.chip import PWRON_RESET, WDT_REASON_TIMER, WDT_RESET
from picostim.sim import headless, scenario, stall
from picostim.sim.scenario import NS_PER_S, PRESS_S, ScenarioError
from picostim.sim.session import SimSession
from stim import board as board_mod

REPO = Path(__file__).resolve().parents[1]
STIM4 = str(REPO / "boards" / "stim4.json")
BENCH = str(REPO / "boards" / "pico_bench.json")
MS = 1_000_000


def _b(path: str = STIM4) -> board_mod.Board:
    return board_mod.load(path)


# -- parsing ----------------------------------------------------------------------------------
def test_every_action_parses() -> None:
    text = """
# a comment line

0 key on            # trailing comment
0.25 estop press
0.5 estop release
1 press start_pause
1.5 hold channel 2.5
2 sense CH2 12.5
2 sense 1 0
3 hang
4 console {"cmd": "status", "note": "a # inside JSON is data"}   # comment after it
5 power cut
6 key off
"""
    acts = scenario.parse(text, _b())
    kinds = [(a.kind, a.args) for a in acts]
    assert kinds == [
        ("key", (True,)),
        ("estop", (True,)),
        ("estop", (False,)),
        ("press", ("start_pause", round(PRESS_S * NS_PER_S))),
        ("hold", ("channel", 2_500_000_000)),
        ("sense", (1, 12.5)),
        ("sense", (0, 0.0)),
        ("hang", ()),
        ("console", ('{"cmd": "status", "note": "a # inside JSON is data"}',)),
        ("power", ()),
        ("key", (False,)),
    ]
    assert [a.t_ns for a in acts] == [0, 250 * MS, 500 * MS, 1000 * MS, 1500 * MS, 2000 * MS, 2000 * MS,
                                      3000 * MS, 4000 * MS, 5000 * MS, 6000 * MS]
    assert [a.line for a in acts] == [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]
    assert json.loads(str(acts[8].args[0]))["note"] == "a # inside JSON is data"


BAD = [
    ("1 frobnicate", "unknown action 'frobnicate'"),
    ("abc key on", "time 'abc' is not a number of seconds"),
    ("-1 key on", "must be a finite number of seconds >= 0"),
    ("nan key on", "must be a finite number of seconds >= 0"),
    ("1 key", "key takes 'on' or 'off'"),
    ("1 key maybe", "key takes 'on' or 'off'"),
    ("1 estop push", "estop takes 'press' or 'release'"),
    ("1 press", "press takes one button name"),
    ("1 press start", "unknown button 'start'"),
    ("1 hold plus", "hold takes a button and a duration"),
    ("1 hold plus 0", "hold duration must be > 0 s"),
    ("1 hold plus soon", "hold duration 'soon' is not a number"),
    ("1 sense 9 10", "channel 9: the board has channels 1..4"),
    ("1 sense CH9 10", "channel 'CH9': the board's channels are CH1, CH2, CH3, CH4"),
    ("1 sense 4 10", "channel CH4 has no sense line"),
    ("1 sense 1 -3", "sense current must be a finite number of mA >= 0"),
    ("1 sense 1 lots", "sense current 'lots' is not a number of mA"),
    ("1 hang now", "hang takes nothing after it"),
    ("1 console", "console needs a JSON line"),
    ("1 console {\"cmd\": ", "console: not valid JSON"),
    ("1 console {} extra", "unexpected text after the JSON"),
    ("1 power", "did you mean 'power cut'?"),
    ("5", "expected '<seconds> <action> ...'"),
    ("1 advance", "advance takes one span"),
    ("1 advance 3 days", "advance takes one span"),
    ("1 advance soon", "is not a number with a unit"),
    ("1 advance 0.1s", "advance span must be 1 s .. 366 d"),
    ("1 advance 400d", "advance span must be 1 s .. 366 d"),
]


@pytest.mark.parametrize(("line", "why"), BAD)
def test_bad_line_is_named_with_its_number(line: str, why: str) -> None:
    text = "0 key on\n" + line + "\n9 key off\n"
    with pytest.raises(ScenarioError) as e:
        scenario.parse(text, _b(), "s.txt")
    assert e.value.problems[0][0] == 2
    assert why in e.value.problems[0][1]
    assert str(e.value).startswith("s.txt:2: ")


def test_every_bad_line_is_reported_at_once() -> None:
    text = "0 key on\n1 press nope\n2 key on\n1.5 key off\n3 sense 4 1\n"
    with pytest.raises(ScenarioError) as e:
        scenario.parse(text, _b(), "s.txt")
    assert [n for n, _ in e.value.problems] == [2, 4, 5]
    assert "before the previous action's 2s" in e.value.problems[1][1]


def test_the_board_decides_buttons_channels_and_sense() -> None:
    # pico_bench has no sense lines: a sense line that stim4 accepts is refused there.
    scenario.parse("1 sense 1 5\n", _b(STIM4))
    with pytest.raises(ScenarioError, match="channel CH1 has no sense line"):
        scenario.parse("1 sense 1 5\n", _b(BENCH))
    with pytest.raises(ScenarioError, match=r"the board has channels 1\.\.2"):
        scenario.parse("1 press plus\n2 hang\n3 sense 3 1\n", _b(BENCH))


def test_unreadable_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        scenario.load(str(tmp_path / "missing.txt"))


# -- what actions do on the model ---------------------------------------------------------------
def _run(text: str, until_s: float, board: str = STIM4) -> SimSession:
    sess = SimSession(board)
    sess.schedule(scenario.parse(text, sess.board))
    sess.run_until(round(until_s * NS_PER_S))
    return sess


def _statuses(sess: SimSession) -> list[dict[str, object]]:
    return [json.loads(s) for s in sess.runner.console_out if s.startswith('{"status"')]


def test_hang_stalls_the_main_loop_until_the_watchdog_resets_the_board() -> None:
    sess = _run("0.1 key on\n0.5 press start_pause\n1.0 press plus\n1.6 hang\n", 2.0)
    try:
        resets = sess.chip.resets
        assert len(resets) == 1
        t, cause, _why, wdt_reason = resets[0]
        assert cause == WDT_RESET and wdt_reason == WDT_REASON_TIMER  # an expiry, not machine.reset()
        # The stall begins at the loop's next sleep (within one 10 ms tick of 1.6 s); the
        # watchdog (100 ms, fed every tick until then) fires within its timeout of it.
        assert 1600 * MS + 100 * MS <= t <= 1600 * MS + 100 * MS + 10 * MS + MS
        assert sess.runner.boots == 2
        st = _statuses(sess)
        assert st[-1]["status"] == "FAULT" and st[-1]["reason"] == "watchdog reset"
        # One stall, one reset: the rebooted firmware runs (and sleeps) normally.
        assert not stall.is_hung(sess.chip)
        assert sess.runner.crashes == []
    finally:
        sess.close()


def test_hang_keeps_the_pwm_running_but_stops_the_dynamic_enable() -> None:
    """A hung CPU leaves the PWM hardware running; only the charge-pump toggle (the tick) stops."""
    sess = _run("0.1 key on\n0.5 press start_pause\n1.0 press plus\n1.5 press plus\n2.0 hang\n", 2.09)
    try:
        b = sess.board
        pump = b.outputs.charge_pump
        assert pump is not None
        ch1 = b.channels[0]
        before = sess.chip.edges(pump.pin, 1900 * MS, 2000 * MS)
        during = sess.chip.edges(pump.pin, 2020 * MS, 2090 * MS)
        assert len(before) >= 9 and during == []
        assert sess.chip.edges(ch1.pulse_a, 2020 * MS, 2090 * MS) != []
        assert sess.chip.resets == []
    finally:
        sess.close()


def test_the_charge_pump_toggles_only_while_a_session_runs_and_stops_at_the_kill() -> None:
    """Dynamic enable (issue 12 item 5): no toggles in SAFE and READY, one per tick in RUNNING, none
    from the kill on (the IRQ parks the pin; the tick never toggles it again)."""
    sess = _run("0.1 key on\n0.5 press start_pause\n1.0 press plus\n1.5 key off\n", 1.8)
    try:
        pump = sess.board.outputs.charge_pump
        assert pump is not None
        assert sess.chip.edges(pump.pin, 0, 500 * MS) == []  # SAFE, then READY with the key in
        running = sess.chip.edges(pump.pin, 600 * MS, 1500 * MS)
        assert 80 <= len(running) <= 91, len(running)  # a toggle per 10 ms tick
        after = sess.chip.edges(pump.pin, 1500 * MS + 200_000, 1800 * MS)
        assert after == [] and sess.chip.level(pump.pin, 1800 * MS) != pump.active_level
    finally:
        sess.close()


def test_power_cut_reboots_with_a_power_on_reset() -> None:
    sess = _run("0.1 key on\n0.5 power cut\n", 1.0)
    try:
        assert [(t, c) for t, c, *_ in sess.chip.resets] == [(500 * MS, PWRON_RESET)]
        assert sess.runner.boots == 2
        st = _statuses(sess)
        assert st[-1]["status"] == "READY"  # a power-on reset is not a fault; the key is still in
    finally:
        sess.close()


def test_sense_drives_the_adc_pin_with_the_boards_scale() -> None:
    sess = _run("0.1 key on\n0.3 sense CH2 20\n", 0.4)
    try:
        spec = sess.board.channels[1]
        assert spec.sense_adc is not None and spec.sense_ma_per_volt is not None
        assert sess.chip.adc_volts[spec.sense_adc] == pytest.approx(20 / spec.sense_ma_per_volt)
        st = _statuses(sess)
        # 20 mA flowing while the firmware drives nothing: it latches a fault naming the channel.
        assert st[-1]["status"] == "FAULT" and spec.name in str(st[-1]["reason"])
    finally:
        sess.close()


def test_hold_keeps_the_button_down_for_its_duration() -> None:
    sess = _run("0.2 hold channel 2.5\n", 3.0)
    try:
        pin = sess.board.inputs.buttons["channel"].pin
        active = sess.board.inputs.buttons["channel"].active_level
        edges = sess.chip.edges(pin, 100 * MS, 3000 * MS)
        assert edges == [(200 * MS, active), (2700 * MS, 1 - active)]
    finally:
        sess.close()


def test_estop_scenario_latches_a_fault() -> None:
    sess = _run("0.1 key on\n0.4 estop press\n0.6 estop release\n", 0.8)
    try:
        st = _statuses(sess)
        assert [s["status"] for s in st] == ["SAFE", "READY", "FAULT"]
        assert st[-1]["reason"] == "e-stop"
    finally:
        sess.close()


def test_paced_run_takes_at_least_the_simulated_time(tmp_path: Path) -> None:
    import time

    script = tmp_path / "s.txt"
    script.write_text("0.1 key on\n")
    t0 = time.monotonic()
    rc = headless.run(STIM4, str(script), 0.3, None, "1", out=io.StringIO(), err=io.StringIO())
    assert rc == 0
    assert time.monotonic() - t0 >= 0.3


def test_speed_must_be_max_or_positive() -> None:
    err = io.StringIO()
    assert headless.run(STIM4, None, 1.0, None, "fast", out=io.StringIO(), err=err) == 2
    assert "--speed" in err.getvalue()
    assert headless.run(STIM4, None, 1.0, None, "0", out=io.StringIO(), err=io.StringIO()) == 2


def test_console_lines_reach_the_firmware_console() -> None:
    text = ('0.1 key on\n0.5 press start_pause\n1.0 console {"cmd": "status", "id": 7}\n'
            '1.5 console {"cmd": "stop", "id": 8}\n')
    sess = _run(text, 2.0)
    try:
        replies = {}
        for line in sess.runner.console_out:
            d = json.loads(line) if line.startswith("{") else {}
            if "id" in d:
                replies[d["id"]] = d
        assert replies[7]["ok"] is True and replies[7]["state"] == "RUNNING"
        assert replies[8]["ok"] is True
        st = _statuses(sess)
        assert st[-1]["status"] != "RUNNING"  # the console's stop ended the session
        assert [s["status"] for s in st].count("RUNNING") == 1
    finally:
        sess.close()


def test_advance_parses_spans() -> None:
    acts = scenario.parse("1 advance 3d\n2 advance 12h\n3 advance 30m\n4 advance 90s\n5 advance 45\n", _b())
    assert [(a.kind, a.args) for a in acts] == [("advance", (3 * 86400,)), ("advance", (12 * 3600,)),
                                                ("advance", (1800,)), ("advance", (90,)), ("advance", (45,))]


def test_advance_powers_the_board_off_and_the_rtc_runs_on(tmp_path: Path) -> None:
    d = json.loads(Path(STIM4).read_text())
    d["rtc"] = {"driver": "ds3231", "bus": "i2c0"}
    board = tmp_path / "stim4-rtc.json"
    board.write_text(json.dumps(d))
    t = 1_767_225_600
    text = ('0.3 console {"cmd": "time.set", "epoch_s": %d, "id": 1}\n0.6 advance 3d\n'
            '1.5 console {"cmd": "status", "id": 2}\n' % t)
    sess = _run(text, 2.0, str(board))
    try:
        assert [(ts, c) for ts, c, *_ in sess.chip.resets] == [(600 * MS, PWRON_RESET)]
        replies = {}
        for line in sess.runner.console_out:
            r = json.loads(line) if line.startswith("{") else {}
            if "id" in r:
                replies[r["id"]] = r
        assert replies[1]["rtc"] is True
        wall = replies[2]["wall"]
        assert isinstance(wall, int) and t + 3 * 86400 <= wall <= t + 3 * 86400 + 2  # read from the RTC at boot
    finally:
        sess.close()


def test_profile_lines_parse_and_are_checked() -> None:
    acts = scenario.parse("1 profile C017\n2 profile none\n3 profile c2\n", _b())
    assert [(a.kind, a.args) for a in acts] == [("profile", ("C017",)), ("profile", ("",)), ("profile", ("C2",))]
    for line, why in (("1 profile", "profile takes one client id"), ("1 profile Anna", "with a digit"),
                      ("1 profile C1 C2", "profile takes one client id")):
        with pytest.raises(scenario.ScenarioError, match=why):
            scenario.parse(line, _b())
    d = json.loads(Path(STIM4).read_text())
    d.pop("display")
    with pytest.raises(scenario.ScenarioError, match="no display"):
        scenario.parse("1 profile C1", board_mod.parse(json.dumps(d)))


def test_profile_selects_through_the_panel_and_the_guard_judges_the_start(tmp_path: Path) -> None:
    """Profiles put over the console; `profile C2` selects the second by the OLED; the guard refuses
    it (never screened); `profile none` goes back to no profile, which starts."""
    d = json.loads(Path(STIM4).read_text())
    d["rtc"] = {"driver": "ds3231", "bus": "i2c0"}
    board = tmp_path / "stim4-rtc.json"
    board.write_text(json.dumps(d))
    put = '{"cmd": "clients.put", "profile": {"id": "%s", "limits_ua": [20000, 20000, 20000, 20000]}}'
    text = ("0.1 key on\n0.5 console %s\n0.8 console %s\n1.0 profile C2\n8.0 press start_pause\n"
            "9.0 profile none\n14.0 press start_pause\n" % (put % "C1", put % "C2"))
    sess = _run(text, 15.0, str(board))
    try:
        st = _statuses(sess)
        refused = [s for s in st if s["reason"] == "refused: never screened"]
        assert len(refused) == 1 and refused[0]["status"] == "READY"
        assert any(s["status"] == "RUNNING" for s in st)
        did = [w for _t, w in sess.log]
        assert "profile C2 picked" in did and "profile none picked" in did
        assert st[-1]["status"] == "RUNNING"
    finally:
        sess.close()
