"""Run the firmware's pulse hal on a fresh RP2040 model: what the bench, `picostim plot` and tests share.

`run_train()` builds a chip, a stim.hal.pulse_hw.PulseChannel on two pins,
configures it, starts it, lets the hardware run for a few programs with no
firmware call at all, stops it and waits until the hardware has finished.
The result holds the chip (whose pins' edges are the measurement) and the
times that matter, plus how many calls the model saw during the steady part.
"""

import importlib
import sys
from pathlib import Path
from typing import Any, Optional

from picostim import fakehw
from picostim.fakehw import dma
from picostim.fakehw.chip import Chip
from picostim.fakehw.clock import Clock
from picostim.fakehw.probe import Pairs

REPO = Path(__file__).resolve().parents[2]
FIRMWARE = REPO / "firmware"
STIM4 = REPO / "boards" / "stim4.json"


def firmware_module(name: str) -> Any:
    """Import a firmware module (e.g. "stim.hal.pulse_hw") with the model installed as machine and rp2."""
    fw = str(FIRMWARE)
    if fw not in sys.path:
        sys.path.insert(0, fw)
    if "machine" not in sys.modules:
        fakehw.install()
    return importlib.import_module(name)


class CountingClock(Clock):
    """The model's clock, counting calls into the machine/rp2/time facades (each charges one)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def charge_call(self) -> None:
        self.calls += 1
        super().charge_call()


class Run:
    """One start-to-stop run: the chip, its two pins, and the times of the run."""

    def __init__(self, chip: Chip, pin_a: int, pin_b: int, lead: str = "negative") -> None:
        self.chip = chip
        self.lead = lead
        self.pin_a = pin_a
        self.pin_b = pin_b
        self.t0 = 0  # start() called
        self.ta = 0  # steady part: from
        self.tb = 0  # to (stop() called)
        self.t1 = 0  # the hardware has finished, one more program later
        self.steady_calls = 0  # facade calls and DMA interrupt handlers during the steady part

    def pairs(self, t0: Optional[int] = None, t1: Optional[int] = None) -> Pairs:
        lo = self.t0 if t0 is None else t0
        hi = self.t1 if t1 is None else t1
        return Pairs(self.chip.edges(self.pin_a, lo, hi), self.chip.edges(self.pin_b, lo, hi), self.lead)


def run_train(settings: Any, pin_a: int, pin_b: int, steady_programs: int = 3) -> Run:
    """configure, start, one program to settle, steady_programs untouched, stop, wait until finished."""
    hw = firmware_module("stim.hal.pulse_hw")
    clock = CountingClock()
    chip = fakehw.install(Chip(clock))
    run = Run(chip, pin_a, pin_b, settings.lead)
    ch = hw.PulseChannel(pin_a, pin_b)
    ch.configure(settings)
    program_ns = settings.program_cycles * 1_000_000_000 // settings.cpu_hz
    run.t0 = clock.now_ns()
    ch.start()
    run.ta = run.t0 + program_ns
    clock.advance_to(run.ta)
    before = clock.calls + dma.block().irq_calls
    run.tb = run.ta + steady_programs * program_ns
    clock.advance_to(run.tb)
    run.steady_calls = clock.calls + dma.block().irq_calls - before
    ch.stop()
    while ch.running:
        clock.advance(program_ns // 4 + 1)
    run.t1 = clock.now_ns() + program_ns
    clock.advance_to(run.t1)
    return run
