"""Every front-panel gesture, worked through pin levels on the model, and what the trainer gets back.

firmware/main.py runs unchanged on a BoardRunner (stim4 board). The tests
press buttons, turn the key and hit the e-stop only through pin levels
(picostim.sim.world), and read the result from the model as a trainer would
see and hear it: the amplitude DAC code of each channel, the buzzer's bursts,
the status LED and the SSD1306's panel read back as text
(picostim.bench.panel.Rig).
"""

import itertools
import json
from pathlib import Path

from picostim.bench.panel import Rig
from picostim.fakehw.runner import BOARDS_DIR
from stim import controller as ctl_mod
from stim import feedback as fb
from stim import programs
from stim import supervisor as sv

SCREEN_MS = 1000  # a change is on the panel within 200 ms (compose) + 75 passes (stim.hal.oled: nine
# draws, a window, 8 pages of 8 chunks)
NAMES = programs.names()


def _on(pattern: "tuple[int, ...]") -> "tuple[int, ...]":
    """The on-times of a stim.feedback buzzer pattern: what the buzzer pin shows."""
    return tuple(pattern[0::2])


def _continuous(rig: Rig) -> None:
    """Choose tens_conventional (continuous, all four channels) and check the panel says so."""
    rig.press("program", after_ms=SCREEN_MS)
    assert rig.screen()[1] == "tens_conventiona"  # 17 characters: the panel shows 16


def _code(rig: Rig, ua: int) -> int:
    """The DAC code for ua on this board (rounded down, as the firmware drives it)."""
    return int(ua // (rig.board.amplitude.ma_per_code * 1000))


def test_program_select_works_when_idle_and_is_refused_while_running() -> None:
    with Rig() as rig:
        assert rig.screen()[1].strip() == NAMES[0][:16]
        t = rig.press("program", after_ms=SCREEN_MS)
        assert rig.screen()[1].strip() == NAMES[1][:16]
        assert rig.beep_patterns(t) == [_on(fb.BEEP_KEY)]  # a click: accepted
        rig.press("start_pause", after_ms=200)
        assert rig.status()["status"] == "RUNNING"
        t = rig.press("program", after_ms=SCREEN_MS)
        screen = rig.screen()
        assert screen[1].strip() == NAMES[1][:16]  # the running program stays
        assert screen[6:] == ["program locked  ", "while running   "]
        assert rig.beep_patterns(t) == [_on(fb.BEEP_REFUSED)]
        assert rig.status()["reason"] == ctl_mod.ALERT_PROGRAM_LOCKED


def test_channel_select_one_then_the_next_then_all() -> None:
    with Rig() as rig:
        _continuous(rig)
        rig.press("start_pause")
        rig.press("channel", after_ms=SCREEN_MS)  # channel 1
        assert [r[:2] for r in rig.screen()[2:6]] == [">1", " 2", " 3", " 4"]
        assert rig.screen()[6].strip() == "+/- channel 1"
        t = rig.now
        rig.presses("plus", 2)
        rig.run_ms(2500)  # the ramp (5 mA/s) and the program's 2 s start ramp
        assert rig.dac(0) == _code(rig, 2000)
        assert [rig.max_dac(c, t) for c in (1, 2, 3)] == [0, 0, 0]  # only the selected channel
        rig.press("channel")  # channel 2
        rig.press("plus")
        rig.run_ms(400)
        assert (rig.dac(0), rig.dac(1), rig.dac(2)) == (_code(rig, 2000), _code(rig, 1000), 0)
        rig.presses("channel", 3)  # 3, 4, then all
        rig.press("plus", after_ms=SCREEN_MS)
        assert [r[:1] for r in rig.screen()[2:6]] == [">"] * 4
        assert rig.screen()[6].strip() == "+/- all channels"
        rig.run_ms(300)
        assert [rig.dac(c) for c in range(4)] == [_code(rig, u) for u in (3000, 2000, 1000, 1000)]


def test_channel_select_skips_the_channels_the_program_leaves_unused() -> None:
    with Rig() as rig:  # lower_back, the default program: channels 1 and 2 only
        assert rig.screen()[1].strip() == "lower_back"
        seen = []
        for _ in range(4):
            rig.press("channel", after_ms=SCREEN_MS)
            rows = rig.screen()
            seen.append((rows[2][:2], rows[4][:2]))  # the two channels the program uses, ">" selected
        assert seen == [(">1", " 2"), (" 1", ">2"), (">1", ">2"), (">1", " 2")]


def _small_board(tmp_path: Path, max_ma: float) -> Path:
    d = json.loads((BOARDS_DIR / "stim4.json").read_text())
    for ch in d["channels"]:
        ch["max_ma"] = max_ma
        ch.pop("sense_adc", None)
        ch.pop("sense_ma_per_volt", None)
    p = tmp_path / "small.json"
    p.write_text(json.dumps(d))
    return p


def test_plus_and_minus_stay_within_the_limits_and_plus_stops_at_the_cap(tmp_path: Path) -> None:
    with Rig(_small_board(tmp_path, 3)) as rig:  # every channel's maximum: 3 mA
        _continuous(rig)
        rig.press("start_pause")
        t0 = rig.now
        rig.presses("plus", 3)
        rig.run_ms(2500)
        assert rig.dac(0) == _code(rig, 3000)
        t = rig.press("plus", after_ms=SCREEN_MS)  # the 4th: at the cap
        assert rig.beep_patterns(t) == [_on(fb.BEEP_LIMIT)]
        assert rig.screen()[6].strip() == sv.ALERT_AT_CAP
        t = rig.now
        rig.hold("plus", 3000)  # held: repeats, each at the cap
        # The repeats come ~300 ms apart, right at beep_patterns' default grouping gap: with the
        # model charging the tick's Python (fakehw.clock.PYTHON_COST) a beep ends ~1 ms later and two
        # repeats would group. 200 ms still parts them and still joins a pattern's 80 ms pause.
        assert rig.beep_patterns(t, gap_ms=200).count(_on(fb.BEEP_LIMIT)) >= 4
        assert max(rig.max_dac(c, t0) for c in range(4)) == _code(rig, 3000)  # never above the cap
        rig.presses("minus", 5)  # two more than needed: never below 0
        rig.run_ms(100)
        assert [rig.dac(c) for c in range(4)] == [0, 0, 0, 0]
        assert rig.status()["status"] == "RUNNING"
        rig.press("plus")
        rig.run_ms(400)
        assert rig.dac(0) == _code(rig, 1000)  # from 0 again, one step


def test_plus_is_refused_while_paused_with_the_refusal_sound() -> None:
    with Rig() as rig:
        _continuous(rig)
        rig.press("start_pause")
        rig.presses("plus", 3)
        rig.run_ms(2500)
        rig.press("start_pause")
        rig.run_ms(2500)  # tens_conventional ramps down over 2 s
        assert rig.status()["status"] == "PAUSED"
        t = rig.press("plus", after_ms=SCREEN_MS)
        assert rig.beep_patterns(t) == [_on(fb.BEEP_REFUSED)]
        assert rig.screen()[6:] == ["paused: +       ", "ignored         "]
        assert rig.max_dac(0, t) == 0
        rig.press("start_pause")  # resume: back to the 3 mA from before, not 4
        rig.run_ms(1500)
        assert rig.dac(0) == _code(rig, 3000)


def test_pause_ramps_down_and_resume_ramps_from_zero_to_at_most_the_previous_level() -> None:
    with Rig() as rig:
        _continuous(rig)
        rig.press("start_pause")
        rig.presses("plus", 5)
        rig.run_ms(3000)
        full = rig.dac(0)
        assert full == _code(rig, 5000)
        t_pause = rig.press("start_pause", after_ms=0)
        rig.run_ms(2500)
        down = [v for t, v in rig.dac_changes(0, t_pause) if t > t_pause]
        assert down and down == sorted(down, reverse=True) and down[-1] == 0  # only ever down, to 0
        half = rig.dac(0, t_pause + 1000 * 1_000_000)
        assert 0.3 * full < half < 0.7 * full  # a ramp over the program's 2 s, not a cut
        assert rig.status()["status"] == "PAUSED"
        t_resume = rig.press("start_pause", after_ms=0)
        rig.run_ms(2000)
        up = [(t, v) for t, v in rig.dac_changes(0, t_resume) if t > t_resume]
        codes = [v for _t, v in up]
        assert codes[0] <= _code(rig, 100)  # from 0: the first step is one tick of the ramp
        assert codes == sorted(codes) and max(codes) == full  # up to the previous level, never above
        ramp_ua_per_ms = rig.board.limits.ramp_ma_per_s  # mA/s == uA/ms
        for (ta, va), (tb, vb) in itertools.pairwise(up):
            assert rig.ua(vb - va) <= ramp_ua_per_ms * ((tb - ta) / 1e6 + 10)  # never faster than the ramp
        took_ms = (up[-1][0] - t_resume) / 1e6
        assert 900 <= took_ms <= 1100  # 5 mA at 5 mA/s


def test_start_needs_the_key_in_and_the_estop_released() -> None:
    with Rig(key=False) as rig:
        brd = rig.board
        t = rig.press("start_pause", after_ms=SCREEN_MS)
        assert rig.status()["reason"] == sv.ALERT_NO_KEY
        assert rig.beep_patterns(t) == [_on(fb.BEEP_REFUSED)]
        assert rig.screen()[6:] == ["start refused:  ", "key             "]
        rig.world.key(True)
        rig.run_ms(200)
        assert rig.status()["status"] == "READY"
        t = rig.now
        rig.world.estop(True)
        rig.run_ms(1500)  # the fault sound plays out
        assert rig.beep_patterns(t) == [_on(fb.BEEP_FAULT)]
        t = rig.press("start_pause", after_ms=SCREEN_MS)
        assert rig.status()["status"] == "FAULT"
        assert rig.beep_patterns(t) == [_on(fb.BEEP_REFUSED)]
        assert rig.screen()[2:4] == ["E-stop pressed: ", "all outputs off."]
        rig.world.estop(False)
        rig.press("start_pause", after_ms=200)
        assert rig.status()["status"] == "FAULT"  # released is not enough: the fault is latched
        for ch in brd.channels:
            assert rig.chip.edges(ch.pulse_a, 0, rig.now) == []  # no pulse so far, ever
        rig.world.key(False)
        rig.run_ms(100)
        rig.world.key(True)
        rig.run_ms(200)
        assert rig.status()["status"] == "READY"
        rig.press("start_pause", after_ms=200)
        assert rig.status()["status"] == "RUNNING"


def test_supervisor_mode_needs_the_key_and_a_long_press_and_sets_per_channel_maximums() -> None:
    with Rig(key=False) as rig:
        rig.hold("channel", 2500, after_ms=SCREEN_MS)  # no key: no supervisor mode, just a channel press
        assert rig.screen()[6].strip() == "Insert the"
        assert rig.screen()[2].startswith(">1") and rig.screen()[4].startswith(" 2")
        rig.world.key(True)
        rig.run_ms(200)
        t = rig.now
        rig.hold("channel", 2200, after_ms=SCREEN_MS)
        assert rig.screen()[6:] == ["Supervisor: +/- ", "sets the max.   "]
        assert _on(fb.BEEP_KEY) in rig.beep_patterns(t)
        assert rig.screen()[2].startswith("*1") and rig.screen()[4].startswith(" 2")
        assert rig.screen()[3].strip() == "0.0 / 100 mA"  # the supervisor limit: the channel maximum
        rig.hold("minus", 9000, after_ms=SCREEN_MS)  # 5 mA a step, 2 steps/s once held: down to 10 mA
        assert rig.screen()[3].strip() == "0.0 / 10 mA"
        assert rig.screen()[5].strip() == "0.0 / 100 mA"  # channel 2 keeps its own
        rig.hold("channel", 2200, after_ms=SCREEN_MS)  # leave
        assert not rig.screen()[6].startswith("Supervisor")
        assert rig.screen()[3].strip() == "0.0 / 10 mA" and rig.screen()[5].strip() == "0.0 / 80 mA"  # the caps
        rig.press("start_pause")
        t0 = rig.now
        rig.presses("plus", 10)
        t = rig.press("plus", after_ms=SCREEN_MS)  # the 11th: at channel 1's new cap
        assert rig.beep_patterns(t) == [_on(fb.BEEP_LIMIT)]
        rig.run_ms(6000)  # lower_back: 4 s on / 4 s off, so a whole contraction at full level
        assert rig.max_dac(0, t0) == _code(rig, 10_000)
        assert rig.max_dac(1, t0) == 0  # + acted on channel 1 only
