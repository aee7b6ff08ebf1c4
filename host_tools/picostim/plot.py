"""`picostim plot PROGRAM -o FILE.png`: a program's envelope and its pulses, as the model makes them.

PROGRAM is a built-in name (`picostim plot lower_back -o lb.png`) or a JSON
program file. Three panels: one contraction's envelope at the program's
maximum intensity (stim.pulse.envelope_permille), one program of the pulse
train, and a zoom on one biphasic pair. The last two come from the model's
pin edges, with the firmware's hal driving the first channel of the board
(default boards/stim4.json); widths and period in the titles are measured
from those edges. A program, board or setting the firmware refuses is
reported with its field path, and the exit status is 2.
"""

import sys
from pathlib import Path
from typing import Any

from picostim.pulserun import STIM4, firmware_module, run_train


def load_program(spec: str, n_channels: int) -> Any:
    """A built-in name, or a path to a JSON program file; ProgramError (a ValueError) if invalid."""
    programs = firmware_module("stim.programs")
    p = Path(spec)
    if spec.endswith(".json") or p.exists():
        try:
            text = p.read_text()
        except OSError as e:
            raise programs.ProgramError("(file)", "cannot read %s: %s" % (spec, e.strerror or e)) from e
        return programs.parse(text, n_channels)
    return programs.by_name(spec, n_channels)


def _step(edges_a: list[tuple[int, int]], edges_b: list[tuple[int, int]], t0: int, t1: int,
          scale: float) -> tuple[list[float], list[float]]:
    """Current through the electrodes (+scale while A is high, -scale while B is high) as a step line, in ns."""
    events = sorted([(t, "a", v) for t, v in edges_a] + [(t, "b", v) for t, v in edges_b])
    a = b = 0
    xs = [float(t0)]
    ys = [0.0]
    for t, which, v in events:
        xs.append(float(t))
        ys.append(ys[-1])
        if which == "a":
            a = v
        else:
            b = v
        xs.append(float(t))
        ys.append(scale * (a - b))
    xs.append(float(t1))
    ys.append(ys[-1])
    return xs, ys


def draw(program: Any, settings: Any, run: Any, output: str) -> list[str]:
    """Draw the envelope, the train and one pair from the model's edges into output (PNG); the panels' titles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pulse = firmware_module("stim.pulse")
    peak_ma = program.max_ua / 1000
    fig, (ax_env, ax_train, ax_pair) = plt.subplots(3, 1, figsize=(8, 9))
    # 1: one contraction (or the start of a continuous session).
    span = program.on_ms + program.off_ms if program.on_ms else program.ramp_up_ms + 5000
    ts = list(range(0, span + 1, max(1, span // 1000)))
    ax_env.plot([t / 1000 for t in ts], [pulse.envelope_permille(program, t) * peak_ma / 1000 for t in ts])
    ax_env.set_title("%s: envelope at the program maximum (%g mA)" % (program.name, peak_ma))
    ax_env.set_xlabel("s")
    ax_env.set_ylabel("mA")
    # 2: a burst, or three pulse periods, of the train, from the edges.
    pairs = run.pairs(run.ta, run.tb)
    per = run.pairs().periods()
    if not pairs.pairs or not per:
        raise RuntimeError("the model made no pulse train")
    ns_per_cycle = 1_000_000_000 // settings.cpu_hz
    start = pairs.starts()[0] - settings.pair_cycles * ns_per_cycle
    end = start + max(settings.program_cycles, 3 * settings.period_cycles) * ns_per_cycle
    xs, ys = _step(run.chip.edges(run.pin_a, start, end), run.chip.edges(run.pin_b, start, end), start, end,
                   peak_ma)
    ax_train.plot([(x - start) / 1e6 for x in xs], ys)
    ax_train.set_title("pulse train (model edges): %s, period %.4f ms"
                       % ("%d per burst" % program.burst_pulses if program.burst_mhz else "continuous",
                          per[0] / 1e6))
    ax_train.set_xlabel("ms")
    ax_train.set_ylabel("mA")
    # 3: one pair.
    l_rise, l_fall, t_rise, t_fall = pairs.pairs[0]
    margin = (t_fall - l_rise) // 2
    lo, hi = l_rise - margin, t_fall + margin
    xs, ys = _step(run.chip.edges(run.pin_a, lo, hi), run.chip.edges(run.pin_b, lo, hi), lo, hi, peak_ma)
    ax_pair.plot([(x - l_rise) / 1000 for x in xs], ys)
    ax_pair.axhline(0, color="grey", linewidth=0.5)
    first, second = ("positive", "negative") if settings.lead == "positive" else ("negative", "positive")
    ax_pair.set_title("one biphasic pair (model edges): %s %.3f us, gap %.3f us, %s %.3f us"
                      % (first, (l_fall - l_rise) / 1000, (t_rise - l_fall) / 1000, second, (t_fall - t_rise) / 1000))
    ax_pair.set_xlabel("us")
    ax_pair.set_ylabel("mA")
    fig.tight_layout()
    fig.savefig(output, format="png")
    titles = [ax.get_title() for ax in (ax_env, ax_train, ax_pair)]
    plt.close(fig)
    return titles


def run(spec: str, output: str, board_file: str = str(STIM4)) -> int:
    board = firmware_module("stim.board")
    programs = firmware_module("stim.programs")
    pulse = firmware_module("stim.pulse")
    try:
        brd = board.load(board_file)
        program = load_program(spec, len(brd.channels))
        settings = pulse.train_settings(program, brd.cpu_hz, brd.limits.guard_us, brd.limits.dead_time_us)
    except (board.BoardError, programs.ProgramError, pulse.PulseError) as e:
        print("picostim plot: " + str(e), file=sys.stderr)
        return 2
    c0 = brd.channels[0]
    draw(program, settings, run_train(settings, c0.pulse_a, c0.pulse_b, 3), output)
    print("wrote " + output)
    return 0
