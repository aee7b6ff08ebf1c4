"""Random sequences of everything the world can do to a board, through the real firmware on the model.

A hypothesis RuleBasedStateMachine drives firmware/boot.py and main.py (stim.app, the controller,
supervisor, panel, kill path, watchdog) on the RP2040 model (picostim.safetycheck.Rig) with: the
key, the e-stop, button gestures (short and bouncing presses, holds, rapid taps, the supervisor
hold), console lines sent over the modelled USB serial to stim.console as a host sends them
({"cmd": "stop"}; {"cmd": "limits.set", ...}, one line per channel), electrode sense readings
(connected, open, shorted), time steps, broken wires, switches that land inside a tick (also while
it holds IRQs back), hung main loops, watchdog resets and power cuts, with the board's ms ticks
started at 0 or just before their 2**30 wrap, on three boards (stim4 with its PWM DAC and sense
lines, the 2-channel bench board, stim4 with an MCP4728).

After every step, picostim.safetycheck.SafetyChecker checks, from the model's pins, DAC state and
console alone (never the supervisor's variables), that:
- nothing stimulates (stim pin high, amplitude above 0, output-enable on) unless a panel start press
  came with the key in and the e-stop released after the last key removal, e-stop press, console
  STOP, overcurrent or reset; the kill path turns everything off within 200 us of a key or e-stop
  edge;
- after an e-stop press, an overcurrent or a watchdog reset nothing stimulates again until the key
  has been turned off and on and start pressed again;
- every channel stays within the board, channel, supervisor, program and RMS caps, and its
  amplitude never exceeds what the ramp rate allows since the start press;
- a hung main loop is reset by the watchdog within its timeout, and the board boots into FAULT
  "watchdog reset";
- the firmware never crashes, never reports an internal error, never trips the watchdog while its
  loop runs, never reports an overcurrent on a connected electrode and never keeps driving an open
  one.

CI runs at least 2,000 sequences (SEQUENCES), split over up to two processes; `make bench` runs
50,000 random sequences of the same actions (bench/safety.py). The mutants M01..M08 of
host_tools/picostim/safetycase/mutants.toml (run by tests/test_mutants.py) show that this search
catches each supervisor guard disabled. The scenario tests at the end: a hung main
loop, and the kill path's latency against the checker's bound.
"""

import json
import multiprocessing
import os
import traceback
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Optional

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule, run_state_machine_as_test
from picostim import safetycheck as sc
from picostim.bench import workers as bench_workers
from picostim.safetycheck import (
    Rig,
    Violation,
    board_files,
)

SEQUENCES = max(2000, int(os.environ.get("SAFETY_SEQUENCES", "0")))  # CI: 2,000; more on request
STEPS = 6  # rules per sequence, after the boot
WRAP = 1 << 30

AFTER_MS = st.sampled_from(sc.AFTER_MS)  # the same menu as the bench's random driver
WAIT_MS = st.sampled_from(sc.WAIT_MS)

_RIGS: dict[tuple[str, tuple[str, ...], bool], Rig] = {}


def rig_for(board: str, mutations: "Optional[dict[str, Any]]" = None, blind_feed: bool = False) -> Rig:
    """One rig per board and mutation, reused by every sequence (a power cut starts each afresh)."""
    key = (board, tuple(sorted(mutations or {})), blind_feed)
    rig = _RIGS.get(key)
    if rig is None:
        rig = Rig(board_files()[board], mutations=mutations, blind_feed=blind_feed)
        _RIGS[key] = rig
    return rig


def close_rigs() -> None:
    for rig in _RIGS.values():
        rig.close()
    _RIGS.clear()


class SafetyViolation(AssertionError):
    pass


class SafetyMachine(RuleBasedStateMachine):
    """The world acts on a board at random; after every step the board's outputs must still be safe."""

    mutations: "dict[str, Any]" = {}
    blind_feed = False
    boards: "tuple[str, ...]" = ("stim4", "stim4", "pico_bench", "stim4_mcp4728")

    def __init__(self) -> None:
        super().__init__()
        self.rig: Optional[Rig] = None

    def _r(self) -> Rig:
        if self.rig is None:
            raise RuntimeError("the sequence has not booted")
        return self.rig

    def _step(self, found: "list[Violation]") -> None:
        if found:
            raise SafetyViolation("\n".join(repr(v) for v in found))

    def _after(self, ms: int) -> None:
        self._step(self._r().wait(ms))

    @initialize(board=st.sampled_from(range(4)), mode=st.integers(0, 7),
                ticks=st.one_of(st.just(0), st.integers(WRAP - 4000, WRAP - 1)), taps=st.integers(1, 8))
    def boot(self, board: int, mode: int, ticks: int, taps: int) -> None:
        """Power on. Modes 0-4: key in, e-stop released, start pressed and + tapped `taps` times (most
        sequences then act on a running session); 5: ready, no start; 6: key out; 7: e-stop pressed.
        The ms ticks start at 0 or up to 4 s before their 2**30 wrap."""
        self.rig = rig_for(self.boards[board], self.mutations, self.blind_feed)
        self._do(sc.start_sequence, mode, ticks, taps)

    def _do(self, fn: Any, *args: Any) -> None:
        rig = self._r()
        before = len(rig.violations)
        fn(rig, *args)
        self._step(rig.violations[before:])

    @rule(data=st.data())
    def step(self, data: Any) -> None:
        """One action of the world, drawn from picostim.safetycheck's menu (the bench draws from it too):
        a kind (switch, mid_tick, press, taps, console_stop, console_limit, sense, wait, trouble), what
        exactly, and the time that passes after it. One rule, so that every kind is drawn as often."""
        kind, menu, afters = data.draw(st.sampled_from(sc.MENU), label="kind")
        what = data.draw(st.sampled_from(menu), label=kind)
        after = data.draw(st.sampled_from(afters), label="after_ms")
        self._do(sc.act, kind, what, after)

    def teardown(self) -> None:
        """The world rests a while, so that what the last steps set in motion is checked too."""
        if self.rig is not None:
            self._after(sc.SETTLE_MS)


def machine_settings(examples: int, steps: int = STEPS, shrink: bool = True) -> settings:
    phases = list(Phase) if shrink else [Phase.explicit, Phase.generate]
    return settings(max_examples=examples, stateful_step_count=steps, deadline=None, database=None,
                    derandomize=False, suppress_health_check=list(HealthCheck), print_blob=False, phases=phases)


def run_share(seed_value: int, examples: int, mutations: "Optional[dict[str, Any]]" = None,
              blind_feed: bool = False, shrink: bool = True) -> "tuple[int, int, str]":
    """Run `examples` sequences from hypothesis seed seed_value in this process.

    Returns (sequences run, steps run, the failure report or "" if every sequence stayed safe)."""
    machine = type("SafetyMachine%d" % seed_value, (SafetyMachine,),
                   {"mutations": dict(mutations or {}), "blind_feed": blind_feed})
    seed(seed_value)(machine)
    report = ""
    try:
        run_state_machine_as_test(machine, settings=machine_settings(examples, shrink=shrink))
    except Exception as e:  # noqa: BLE001 - the failure, with hypothesis' minimal sequence in its notes
        report = "".join(traceback.format_exception(e))
    seqs = sum(r.sequences for r in _RIGS.values())
    steps = sum(r.steps for r in _RIGS.values())
    close_rigs()
    return seqs, steps, report


def workers() -> int:
    return bench_workers(2)


def test_random_sequences_keep_every_output_safe() -> None:
    """Whatever the world does, in any order and at any time, the outputs on the model stay within what
    the key, the e-stop, the start press, the limits and the ramp allow (module docstring). The
    sequences are split over up to two processes, each from its own fixed hypothesis seed."""
    n = workers()
    shares = [SEQUENCES // n + (1 if i < SEQUENCES % n else 0) for i in range(n)]
    if n == 1:
        results = [run_share(0, shares[0])]
    else:
        with ProcessPoolExecutor(n, mp_context=multiprocessing.get_context("spawn")) as ex:
            results = list(ex.map(run_share, range(n), shares))
    reports = [r[2] for r in results if r[2]]
    assert not reports, "\n\n".join(reports)
    assert sum(r[0] for r in results) >= SEQUENCES


# -- scenarios ---------------------------------------------------------------------------------------
def _stimulating(rig: Rig) -> None:
    """stim4 on its default program, key in, started, + tapped five times, stimulating."""
    rig.new_sequence(key=True)
    rig.wait(80)
    rig.press("start_pause")
    for _ in range(5):
        rig.press("plus", 45, 45)  # released longer than the 30 ms debounce plus a tick
    rig.wait(1000)
    t = rig.now_ns
    assert rig.chip.edges(rig.board.channels[0].pulse_b, t - 200 * sc.MS, t)  # CH1 pulses
    assert sc.amplitude_ua(rig.chip, rig.board, 0, t - 1, t)[-1][2] > 0  # at an amplitude above 0


def _records(flash: Any) -> "list[dict[str, Any]]":
    from stim import store

    out: list[dict[str, Any]] = []
    for name in ("log.1", "log.0"):
        p = flash / name
        if p.exists():
            out.extend(store.decode_record(line)[1] for line in p.read_bytes().splitlines() if line.strip())
    return out


def test_a_hung_main_loop_is_reset_by_the_watchdog_and_nothing_resumes_until_a_key_cycle() -> None:
    """The main loop stalls while RUNNING (its next pass never returns). The model's watchdog resets the
    chip within the timeout main.py gave it, the outputs are off from that reset on, the board boots
    (reset_cause() == WDT_RESET) into FAULT "watchdog reset" and logs it, and neither the start button
    nor + brings anything back until the key has been turned off and on again."""
    from picostim.fakehw.chip import FUNC_SIO, WDT_REASON_TIMER, WDT_RESET

    rig = Rig(sc.STIM4)
    try:
        _stimulating(rig)
        chip = rig.chip
        timeout_ms = chip.wdt_timeout_ms
        assert 0 < timeout_ms <= 500  # started by main.py: "a few tick periods, up to a few hundred ms"
        resets = len(chip.resets)
        rig.hang()
        rig.wait(timeout_ms + 50)
        assert rig.checker is not None
        hang_t = rig.hung_at_ns  # the pass that never returned began here
        assert len(chip.resets) == resets + 1
        reset_t, cause, reason, wdt_reason = chip.resets[-1]
        assert cause == WDT_RESET and reason == "watchdog timeout" and wdt_reason == WDT_REASON_TIMER
        assert hang_t < reset_t <= hang_t + timeout_ms * sc.MS  # fed last before the hang began
        pins = rig.board.stim_pins()
        # Until the reset the pulse hardware ran on (only the watchdog stopped it) while the tick, and
        # with it the dynamic enable, had stopped.
        assert any(chip.edges(p, hang_t + 1 * sc.MS, reset_t) for p in pins)
        pump = rig.board.outputs.charge_pump
        assert pump is not None and chip.edges(pump.pin, hang_t + 1 * sc.MS, reset_t) == []
        # From the reset on: every stim pin low, no pulse, amplitude 0, output-enable off.
        for p in pins:
            assert chip.level(p, reset_t) == 0 and chip.edges(p, reset_t, rig.now_ns) == []
        for c in range(len(rig.board.channels)):
            assert all(ua == 0 for _s, _e, ua in sc.amplitude_ua(chip, rig.board, c, reset_t, rig.now_ns))
        oe = rig.board.outputs.output_enable
        assert chip.level(oe.pin, reset_t) != oe.active_level
        assert chip.edges(oe.pin, reset_t + 1, rig.now_ns) == []
        assert chip.reset_cause == WDT_RESET
        after = [s for s in sc.status_lines(rig.runner.console_out)
                 if s["t_ms"] >= (chip.clock.boot_us + reset_t // 1000) // 1000 % (1 << 30)]
        assert after and (after[0]["status"], after[0]["reason"]) == ("FAULT", "watchdog reset")
        # Nothing resumes on its own, nor from the panel, while the key stays in.
        for _ in range(2):
            rig.press("start_pause")
            for _ in range(3):
                rig.press("plus", 45, 45)  # released longer than the 30 ms debounce plus a tick
            rig.wait(500)
        for p in pins:
            assert chip.edges(p, reset_t, rig.now_ns) == [] and chip.gpio[p].funcsel == FUNC_SIO
        assert sc.status_lines(rig.runner.console_out)[-1]["status"] == "FAULT"
        # The key cycle clears it; only then does a start press stimulate again.
        rig.key(False)
        rig.wait(100)
        rig.key(True)
        rig.wait(100)
        assert sc.status_lines(rig.runner.console_out)[-1]["status"] == "READY"
        t = rig.now_ns
        rig.press("start_pause")
        for _ in range(3):
            rig.press("plus", 45, 45)  # released longer than the 30 ms debounce plus a tick
        rig.wait(600)
        assert any(chip.edges(p, t, rig.now_ns) for p in pins)
        assert {"k": "reset", "cause": "watchdog"}.items() <= next(
            r for r in reversed(_records(rig.runner.flash_dir)) if r["k"] == "reset").items()
        assert rig.violations == []
    finally:
        rig.close()


def _replies(rig: Rig) -> "list[dict[str, Any]]":
    return [json.loads(line) for line in rig.runner.console_out if line.startswith('{"ok"')]


def test_console_lines_over_the_usb_serial_lower_a_limit_and_stop_within_the_checkers_bounds() -> None:
    """During a session a host sends limits.set (channel 1 to 3 mA) and then stop, as JSON lines over
    the modelled USB serial. Read from the model: channel 1 is at or under 3 mA within
    CONSOLE_LIMIT_NS of its line, every output is off within CONSOLE_STOP_NS of the stop line after
    that, and both lines are answered. The checker, told of a stop the board never got, flags the
    outputs that go on."""
    rig = Rig(sc.STIM4)
    try:
        _stimulating(rig)
        board, chip = rig.board, rig.chip
        assert rig.output_ua(0) > 3000
        t = rig.now_ns
        rig.console(sc.SET_LIMIT, 0, 3)
        rig.run(sc.CONSOLE_LIMIT_NS)
        assert 0 < rig.output_ua(0) <= 3000
        t_free = t + sc.CONSOLE_LIMIT_DONE_NS
        rig.run(t_free - rig.now_ns)
        rig.console(sc.STOP)
        rig.run(sc.CONSOLE_STOP_NS)
        t_off = rig.now_ns
        pins = board.stim_pins()
        rig.wait(200)
        for p in pins:
            assert chip.level(p, t_off) == 0 and chip.edges(p, t_off, rig.now_ns) == []
        assert all(rig.output_ua(c) == 0 for c in range(len(board.channels)))
        assert _replies(rig) == [{"ok": True, "ch": 1, "limit_ua": 3000},
                                 {"ok": True, "ended": True, "state": "READY"}]
        assert sc.status_lines(rig.runner.console_out)[-1]["reason"] == "stopped"
        assert rig.violations == [] and rig.checker is not None and rig.checker.console_lines == 2

        _stimulating(rig)
        rig.checker.note_console(sc.STOP)  # the checker hears of a stop; the board gets no line
        found = rig.wait(200)
        # The outputs stay on, and so does the charge pump that powers them (rule 7).
        assert any(v.kind == "output" for v in found), found
        assert all(v.kind in ("output", "pump") and "console stop" in v.text for v in found), found
    finally:
        rig.close()


def test_the_kill_path_turns_every_stim_pin_off_within_the_checkers_bound() -> None:
    """A key-out or e-stop edge, also one that arrives while the tick holds IRQs back to apply its
    outputs, and one in the tick that starts the pulse trains, parks every stim pin within
    KILL_LATENCY_NS: the bound the checker allows is met with room.

    That bound is docs/safety.md's 100 us (KILL_LATENCY_DOC_NS), for the model calibrated against
    silicon and for the model without Python cost alike (issue 12: the kill path and the commit
    as Thumb code)."""
    from picostim.bench.safety import measure_kill_latency
    from picostim.fakehw import clock

    worst_us = measure_kill_latency(trials=16, calibrated=True)
    assert 0 < worst_us * 1000 <= sc.kill_latency_bound_ns(clock.python_cost(True)) == sc.KILL_LATENCY_NS
    raw_us = measure_kill_latency(trials=16, calibrated=False)
    assert 0 < raw_us * 1000 <= sc.kill_latency_bound_ns(clock.python_cost(False)) == sc.KILL_LATENCY_DOC_NS
    assert sc.KILL_LATENCY_NS == sc.KILL_LATENCY_DOC_NS == 100_000


def test_the_bench_figures_come_out_of_the_model_and_the_vm() -> None:
    """bench/safety.py's parts work: its random driver runs sequences on every board and counts their
    checks and violations (none), and on the MicroPython VM the running tick and the kill path run
    inside heap_lock (0 bytes) with the levels ramping."""
    from picostim.bench import safety as bench

    try:
        seqs, steps, bad, texts = bench.run_chunk(7, 12)
    finally:
        bench.close_rigs()
    assert (seqs, bad, texts) == (12, 0, [])
    assert steps > seqs  # a check after every step, several steps a sequence
    vm = bench.measure_vm()
    assert vm["running"] == 1 and vm["tick_alloc"] == 0 and vm["kill_alloc"] == 0 and vm["tick_us"] > 0


# Into the tick: before its inputs are read, between them and the commit (~0.76 to ~1.15 ms with
# the model's charges, fakehw.clock.PYTHON_COST: 800, 950, 1100), after it, and the same a tick later.
@pytest.mark.parametrize("delay_us", ["masked", 300, 800, 950, 1100, 1500, 2500, 2900, 3200, 3600, 4200,
                                      10_300, 10_800, 10_950, 11_100, 11_500, 12_500, 12_900, 13_200, 13_600,
                                      14_200])
def test_a_key_removed_mid_tick_is_never_followed_by_a_charge_pump_toggle(delay_us: "int | str") -> None:
    """The key comes out at delay_us into a running tick (or the one after: the pump's level
    alternates, and only a toggle towards high makes an edge after the kill parked it low): before
    the tick's inputs are read, between them and the commit, or after the commit (the model charges
    each part of the tick its silicon time, so these land in different parts). The kill path parks
    the pump pin; the tick must not toggle it again (the checker's pump rule: no toggle while no
    channel may drive), neither when _apply saw the kill nor when it came after the commit.
    "masked": the key comes out while the commit holds IRQs back, so the kill runs right after the
    commit (the stateful search found the toggle that followed it, ~0.3 ms later, before the fix)."""
    rig = Rig(sc.STIM4)
    try:
        _stimulating(rig)
        t = rig.now_ns
        rig.mid_tick("key out", delay_us if delay_us == "masked" else int(delay_us))  # us into the next tick
        rig.wait(200)
        assert rig.violations == [], rig.violations
        assert sc.status_lines(rig.runner.console_out)[-1]["status"] == "SAFE"
        # Stricter than the checker, which allows a tick for the supervisor to act: once the kill
        # path has run (its bound: 100 us after the key edge) the pump never rises again, not even
        # in the tick that sees the kill (the stage keeps its supply hold_ms after a rise). A commit
        # holding IRQs back as the key goes out may still make its toggle before the kill runs.
        key = rig.board.inputs.key
        out_at = next(ns for ns, v in rig.chip.edges(key.pin, t, rig.now_ns) if v != key.active_level)
        pump = rig.board.outputs.charge_pump
        assert pump is not None
        rises = [ns for ns, v in rig.chip.edges(pump.pin, out_at + 100_000, rig.now_ns) if v == pump.active_level]
        assert rises == [], [(ns - out_at) // 1000 for ns in rises]
    finally:
        rig.close()


def test_the_stateful_searchs_pump_case_a_key_out_in_the_commit_then_a_hang() -> None:
    """The sequence the random search found once the model charged the tick's Python time: a session
    with one + tap, a hang asked for at the next pass, and the key out while the pass already running
    commits (IRQs held back, so the kill runs right after the commit). The charge pump toggled ~0.3 ms
    after that kill (after the recorder and the LED), keeping the stage powered; now the toggle follows
    the commit and checks the live kill count."""
    rig = Rig(sc.STIM4)
    try:
        sc.start_sequence(rig, 0, 0, 1)
        rig.hang()
        rig.wait(0)
        rig.mid_tick("key out", "masked")
        rig.wait(150)
        assert rig.violations == [], rig.violations
    finally:
        rig.close()


def test_the_stateful_searchs_pump_case_an_overcurrent_latched_after_the_step_then_a_hang() -> None:
    """The sequence the bench's safety search found (stim4 with an MCP4728): a session with three +
    taps, a hang asked for at the next pass, a short on CH2. The tick that read the short latched
    FAULT in its sense check, after the supervisor's step had said the pump may run, and toggled
    the pump once more in FAULT; the loop then hung with the idle watchdog, and the key cut's kill
    parked the pump 150 ms later, an edge while every output had to be off. Now latching a fault
    stops the pump at once (Supervisor.latch_fault)."""
    rig = Rig(sc.board_files()["stim4_mcp4728"])
    try:
        sc.start_sequence(rig, 1, 0, 3)
        sc.act(rig, "trouble", "hang", 0)
        sc.act(rig, "sense", (1, "short"), 150)
        sc.act(rig, "switch", "cut key", 150)
        assert rig.violations == [], rig.violations
    finally:
        rig.close()


def test_a_running_session_toggles_the_charge_pump_only_inside_the_commit() -> None:
    """While a session runs, every toggle of the charge pump is made by the tick's commit, with IRQs
    held back and after its kill-count check (stim.hal.outputs.commit, stim.hal.native_io.commit on
    the board), never by Python after it: no kill can land between the check and the toggle. The
    pump still toggles every tick."""
    rig = Rig(sc.STIM4)
    try:
        _stimulating(rig)
        hw = rig.controller.hw
        calls: list[int] = []
        orig = hw.toggle_charge_pump

        def counted() -> None:
            calls.append(1)
            orig()

        hw.toggle_charge_pump = counted
        pump = rig.board.outputs.charge_pump
        assert pump is not None
        t = rig.now_ns
        rig.wait(200)
        assert calls == []
        assert len(rig.chip.edges(pump.pin, t, rig.now_ns)) >= 15  # one toggle a 10 ms tick
        assert rig.violations == [], rig.violations
    finally:
        rig.close()
