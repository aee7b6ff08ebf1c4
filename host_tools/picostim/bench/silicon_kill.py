"""The kill-latency figures of the silicon bench (picostim.bench.silicon documents them): stopping
edges on the emulated chip, some at random times in a session, some aimed at the ticks in which a
start prepares and commits four pulse trains, each timed from the pads (and an MCP4728's codes)."""

import random
import statistics
from pathlib import Path
from typing import Any, Callable

from picostim.silicon import measure as pinfig
from picostim.silicon.session import SiliconSession

from .passes import TICK_NS

REPO = Path(__file__).resolve().parents[3]
STIM4 = str(REPO / "boards" / "stim4.json")
MS = 1_000_000


def _dac_zero_ns(updates: list[tuple[int, int, int, int]], codes_at_edge: list[int], edge: int) -> int:
    """From the edge until every MCP4728 output is 0 (or powered down) for good."""
    codes = list(codes_at_edge)
    pd = [0] * len(codes)
    since = edge
    for ns, ch, code, down in sorted(updates):
        codes[ch] = code
        pd[ch] = down
        if any(c and not d for c, d in zip(codes, pd, strict=True)):
            since = -1
        elif since < 0:
            since = ns
    if since < 0:
        return -1
    return max(0, since - edge)


def kill_figures(progress: Callable[[str], None], edges: int, board_file: str = STIM4, tag: str = "") -> dict[str, Any]:
    rng = random.Random(2026)
    mcp = "mcp4728" in tag
    dac_lat: list[int] = []
    lat: list[int] = []
    on_lat: list[int] = []  # edges that found the outputs on
    in_arming = 0  # edges aimed into the first ticks of a session, where the trains are prepared and start
    missed = 0
    masked_max = 0
    # Flash at zero time here: the program press's settings flush would only slow the run (the
    # watchdog's margin over flushes is measured in _steady and _flash_worst).
    with SiliconSession(board_file, out=progress, flash_timing="zero") as s:
        s.key(True)
        if s.run_until_text(b'"status": "READY"', 5_000 * MS) is None:
            raise RuntimeError("the firmware did not reach READY")
        s.button("program", True)  # tens_conventional: all four channels
        s.run_until(s.now_ns + 100 * MS)
        s.button("program", False)
        s.run_until(s.now_ns + 100 * MS)
        s.chip.observe(over_ns=200_000)
        phase: int | None = None  # when output-enable went on at the last start: a commit, the ticks' phase
        for i in range(edges):
            s.button("start_pause", True)
            aimed = i % 4 in (1, 2) and phase is not None
            if aimed:
                # + held with the start: the ramp gives the first DAC code a tick or two after the
                # start takes effect, and that tick prepares and commits the four trains. The edge
                # goes to a random point of the three ticks from the one the start acts in (the
                # 30 ms debounce: one of those after it), tick-aligned from the last session's phase.
                s.button("plus", True)
                assert phase is not None
                k = -(-(s.now_ns + 25 * MS - phase) // TICK_NS)
                s.run_until(phase + k * TICK_NS + rng.randrange(0, 3 * TICK_NS))
            else:
                s.run_until(s.now_ns + 60 * MS)
                s.button("start_pause", False)
                s.button("plus", True)
                s.run_until(s.now_ns + rng.randrange(0, 250 * MS))
            oe = s.board.outputs.output_enable
            rises = [ns for ns, g, lv in s.chip.pins if g == oe.pin and lv == oe.active_level]
            if rises:
                phase = rises[-1]  # this session's first commit
            s.chip.pins.clear()
            levels = list(s.chip.levels)
            trace0 = pinfig.PinTrace([], levels)
            was_on = (trace0.level(s.board.outputs.output_enable.pin, s.now_ns) or 0) == \
                s.board.outputs.output_enable.active_level
            if mcp:
                codes_at_edge = s.chip.dac()[1]
            edge = s.now_ns
            if i % 2 == 0:
                s.key(False)
            else:
                s.estop(True)
            s.button("plus", False)
            s.button("start_pause", False)
            s.run_until(edge + 40 * MS)
            t = pinfig.kill_latency_ns(pinfig.PinTrace(s.chip.pins, levels), s.board, edge, 40 * MS)
            if t is None:
                missed += 1
            else:
                lat.append(t)
                if was_on:
                    on_lat.append(t)
            if mcp:
                z = _dac_zero_ns(s.chip.dac()[0], codes_at_edge, edge)
                if z < 0:
                    missed += 1
                else:
                    dac_lat.append(z)
            for _st, ns in s.chip.observations(take=True)["windows"]:
                masked_max = max(masked_max, ns)
            if aimed:
                in_arming += 1
            # Back to READY: e-stop released, a key cycle clears the latched fault.
            s.estop(False)
            s.key(False)
            s.run_until(s.now_ns + 80 * MS)
            s.key(True)
            s.run_until(s.now_ns + 120 * MS)
            s.chip.pins.clear()
            if (i + 1) % 25 == 0:
                progress("silicon kill: %d/%d edges (%d aimed at the ticks that start the trains), worst %.1f us"
                         % (i + 1, edges, in_arming, max(lat) / 1000))
        resets = len(s.chip.stats()["resets"]) - 1
    figs = {
        "silicon.kill_latency_us_max" + tag: round(max(lat) / 1000, 1) if lat else -1,
        "silicon.kill_latency_us_p50" + tag: round(statistics.median(on_lat) / 1000, 1) if on_lat else -1,
        "silicon.kill_edges" + tag: len(lat),
        "silicon.kill_edges_aimed_at_start" + tag: in_arming,
        "silicon.kill_missed" + tag: missed,
        "silicon.kill_masked_us_max" + tag: round(masked_max / 1000, 1),
        "silicon.kill_unexpected_resets" + tag: resets,
    }
    if mcp:
        figs["silicon.kill_dac_zero_us_max" + tag] = round(max(dac_lat) / 1000, 1) if dac_lat else -1
    return figs
