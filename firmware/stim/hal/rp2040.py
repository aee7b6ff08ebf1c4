"""RP2040 pins, clock, watchdog, reset cause and the IRQ kill path.

Everything else in the firmware is pure and takes levels and times as
arguments; this module turns pins into levels and decisions into pin states.
"""

import json
import time
from array import array

import machine
from machine import ADC, PWM, WDT, Pin, mem32, reset_cause
from machine import WDT_RESET as _WDT_RESET
from micropython import schedule

from stim.boardspec import BUTTONS
from stim.hal import NATIVE

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, List, Optional, Tuple

    from stim.boardspec import Board, Input, Output

BOARD_FILE = "board.json"  # relative to cwd, which is the littlefs root on the board

# RP2040 registers (datasheet 2.3.1.7 SIO, 2.19.6.1 IO_BANK0). Plain ints, not
# const(): they exceed MicroPython's small-int range and live in the bytecode's
# constant table, so using them allocates nothing.
_SIO_GPIO_IN = 0xD0000004
_SIO_OUT_SET = 0xD0000014
_SIO_OUT_CLR = 0xD0000018
_SIO_OE_SET = 0xD0000024
_IO_BANK0_CTRL0 = 0x40014004  # GPIOn_CTRL at + 8 * n
_FUNC_SIO = 5

if NATIVE:
    from stim.hal.native_io import park as _native_park


def force_outputs_safe(path: str) -> bool:
    """boot.py's only job: output-enable inactive and every stim pin low.

    It reads just the pins from the board file, before any validation, so that
    even a board file main.py will reject cannot leave an output stage enabled.
    If the file cannot be read, the pins stay as the reset left them: inputs
    with pull-downs, which the board's gate-driver pull-downs hold off.
    Returns True if it drove the pins.
    """
    try:
        with open(path) as f:
            d = json.load(f)
        oe = d["outputs"]["output_enable"]
        Pin(int(oe["pin"]), Pin.OUT, value=1 - int(oe["active_level"]))
        for ch in d["channels"]:
            Pin(int(ch["pulse_a"]), Pin.OUT, value=0)
            Pin(int(ch["pulse_b"]), Pin.OUT, value=0)
    except Exception:  # noqa: BLE001 - any failure leaves the reset state, which is safe
        return False
    return True


# Watchdog (datasheet 4.7.6). REASON says why the watchdog last reset the chip: TIMER (it ran out)
# or FORCE (CTRL.TRIGGER: pico-sdk's watchdog_reboot, which machine.reset(), mpremote reset and the
# bootrom's UF2 reboot use). reset_cause() is WDT_RESET for both, so every deploy used to boot into
# FAULT "watchdog reset". SCRATCH0..3 are free for the application (pico-sdk uses 4..7) and, like
# REASON, survive a watchdog reset; a power-on reset clears them.
_WATCHDOG_REASON = 0x40058008
_WATCHDOG_SCRATCH0 = 0x4005800C
_REASON_TIMER = 1
_WDT_MARKER = 0x50535744  # "PSWD": PicoStim's watchdog runs (written when it starts)


def was_watchdog_reset() -> bool:
    """True only after an expiry of PicoStim's own watchdog: REASON TIMER with the marker in SCRATCH0.

    Reads and clears the marker, so a later reset is judged by the next run's watchdog. An
    intentional reset (machine.reset, mpremote, a UF2 copy) is REASON FORCE: False."""
    ours = mem32[_WATCHDOG_SCRATCH0] == _WDT_MARKER
    mem32[_WATCHDOG_SCRATCH0] = 0
    return ours and reset_cause() == _WDT_RESET and bool(mem32[_WATCHDOG_REASON] & _REASON_TIMER)


class Watchdog:
    """machine.WDT with a timeout that can change while it runs (stim.supervisor.watchdog_ms).

    set_timeout() is machine.WDT(timeout=) again: on the rp2 port that is pico-sdk's
    watchdog_enable(), which loads the new timeout and restarts the count. Starting it writes
    the marker that was_watchdog_reset() looks for."""

    def __init__(self, timeout_ms: int) -> None:
        mem32[_WATCHDOG_SCRATCH0] = _WDT_MARKER
        self._wdt = WDT(timeout=timeout_ms)
        self.timeout_ms = timeout_ms

    def set_timeout(self, timeout_ms: int) -> None:
        self._wdt = WDT(timeout=timeout_ms)
        self.timeout_ms = timeout_ms

    def feed(self) -> None:
        self._wdt.feed()


# Ticks leave the hal as plain ints (they are ints on the board; the stubs make
# them opaque). The core does its arithmetic with stim.ticks, which matches
# time.ticks_diff/ticks_add exactly; the hal hands out `time`'s own functions, not
# wrappers around them: the main loop calls them ~8 times a pass, and a Python
# call costs ~7-12 us on silicon.
# getattr: a host test that imports the hal outside the model's runner (boot.py's parking) sees
# CPython's own `time`, which has none of them; it never reads the clock (None if it did).
ticks_ms: "Callable[[], int]" = getattr(time, "ticks_ms", None)  # type: ignore[assignment]
ticks_us: "Callable[[], int]" = getattr(time, "ticks_us", None)  # type: ignore[assignment]
ticks_diff: "Callable[[int, int], int]" = getattr(time, "ticks_diff", None)  # type: ignore[assignment]
ticks_add: "Callable[[int, int], int]" = getattr(time, "ticks_add", None)  # type: ignore[assignment]


def cpu_hz() -> int:
    """The system clock the chip runs at now (machine.freq(): pico-sdk's clock_get_hz(clk_sys))."""
    return machine.freq()  # type: ignore[no-any-return]


sleep_ms: "Callable[[int], None]" = getattr(time, "sleep_ms", None)  # type: ignore[assignment]


def start_watchdog(timeout_ms: int) -> Watchdog:
    return Watchdog(timeout_ms)


class _In:
    """A fail-safe input: `active()` is True only for the declared active level."""

    def __init__(self, spec: "Input") -> None:
        self.pin = Pin(spec.pin, Pin.IN, Pin.PULL_UP if spec.pull == "up" else Pin.PULL_DOWN)
        self.active_level = spec.active_level
        # The edge towards the fail-safe level is the stopping direction.
        self.stop_edge = Pin.IRQ_RISING if spec.failsafe_level else Pin.IRQ_FALLING

    def active(self) -> bool:
        return self.pin.value() == self.active_level


class _Out:
    def __init__(self, spec: "Output") -> None:
        self.active_level = spec.active_level
        self.pin = Pin(spec.pin, Pin.OUT, value=1 - spec.active_level)

    def set(self, on: bool) -> None:
        self.pin.value(self.active_level if on else 1 - self.active_level)


class _Buzzer:
    """An active buzzer switched as a GPIO, or a passive piezo driven by PWM at pwm_hz."""

    def __init__(self, spec: "Output") -> None:
        self._out: "Optional[_Out]" = None
        self._pwm: "Optional[PWM]" = None
        if spec.pwm_hz is None:
            self._out = _Out(spec)
        else:
            self._pwm = PWM(Pin(spec.pin), freq=spec.pwm_hz, duty_u16=0, invert=spec.active_level == 0)
        self._on = False

    def set(self, on: bool) -> None:
        if on == self._on:
            return
        self._on = on
        if self._out is not None:
            self._out.set(on)
        elif self._pwm is not None:
            self._pwm.duty_u16(32768 if on else 0)


def park_mem32(oe_reg: int, oe_mask: int, low: int, high: int, ctrl: "Tuple[int, ...]") -> None:
    """stim.hal.native_io.park's writes, in its order, through machine.mem32 (host VMs, the model)."""
    mem32[oe_reg] = oe_mask  # output-enable inactive first
    mem32[_SIO_OUT_CLR] = low  # output latch low, then hand the pads to SIO
    mem32[_SIO_OUT_SET] = high
    mem32[_SIO_OE_SET] = low | high
    for a in ctrl:
        mem32[a] = _FUNC_SIO


class KillPath:
    """Output-enable off, every stim pin and PWM-DAC pin to GPIO low, the charge pump stopped, then DAC
    codes to 0.

    Runs from hard IRQs on the key and e-stop pins and from the tick. It uses
    only objects made here in advance, allocates nothing, and never raises: an
    uncaught exception in a hard IRQ would disable that IRQ for good. Driving
    the pins as GPIO, rather than setting duty 0, stops a pulse at once: a duty
    change would wait for the next PWM wrap, up to 125 ms away at 8 Hz.

    On the rp2 port the writes run as Thumb code (stim.hal.native_io.park, a few
    microseconds for stim4's 13 pads); elsewhere the same writes go through
    mem32. The DAC codes are zeroed outside the IRQ (micropython.schedule, and
    the next tick's all_off): an MCP4728 needs the I2C bus, which the OLED may
    be using mid-transfer, and its stim pins and output-enable are off already.
    """

    def __init__(self, board: "Board", dac: "object" = None) -> None:
        pins = list(board.stim_pins())
        if board.amplitude.driver == "pwm_dac":
            pins.extend(board.amplitude.pins)
        low = 0
        for p in pins:
            low |= 1 << p
        high = 0
        oe = board.outputs.output_enable
        if oe.active_level:
            low |= 1 << oe.pin
        else:
            high |= 1 << oe.pin
        pump = board.outputs.charge_pump
        if pump is not None:  # a static level: the pump stops, and the stage loses its supply
            if pump.active_level:
                low |= 1 << pump.pin
            else:
                high |= 1 << pump.pin
        self._oe_reg = _SIO_OUT_CLR if oe.active_level else _SIO_OUT_SET
        self._oe_mask = 1 << oe.pin
        self._low = low
        self._high = high
        self._ctrl: "Tuple[int, ...]" = tuple(_IO_BANK0_CTRL0 + 8 * p for p in pins)
        # The plan stim.hal.native_io.park reads: [oe_reg, oe_mask, low, high, all, n, ctrl...].
        self._plan: "Optional[array[int]]" = None
        if NATIVE:
            self._plan = array("I", [self._oe_reg, self._oe_mask, low, high, low | high, len(pins)] + list(self._ctrl))
        self._dac = dac
        # How often it fired: the tick notices a kill it did not ask for. An array, so that the
        # tick's commit (stim.hal.native_io.commit) can read it with IRQs held back.
        self.fired = array("I", [0])
        # Stopping edges the IRQ saw on the key and on the e-stop. A key glitch or an e-stop tap
        # shorter than a tick is over before the tick reads the level; the tick acts on these
        # counts instead (found by tests/test_safety_stateful.py: a 5 ms e-stop tap killed the
        # outputs, then the next tick saw "released" and restarted them, with no fault latched).
        self.key_edges = 0
        self.estop_edges = 0
        self._key_pin: "object" = None
        self._estop_pin: "object" = None
        self._handler = self._irq  # bound methods made now, not in the IRQ
        self._zero_dac = self._zero_dac_soon

    @property
    def count(self) -> int:
        return self.fired[0]

    def _park(self) -> None:
        plan = self._plan
        if plan is not None:
            _native_park(plan)
        else:
            park_mem32(self._oe_reg, self._oe_mask, self._low, self._high, self._ctrl)

    def fire(self) -> None:
        try:
            self._park()
        except Exception:  # noqa: BLE001 - never raise out of a hard IRQ
            pass
        self._fired()

    def _fired(self) -> None:
        """After the pads are parked: count it, and have the DAC codes zeroed soon."""
        self.fired[0] += 1
        if self._dac is not None:
            try:
                schedule(self._zero_dac, 0)  # preallocated callback; the queue holds 8
            except Exception:  # noqa: BLE001 - queue full: the next tick's all_off zeroes it
                pass

    def _zero_dac_soon(self, _arg: int) -> None:
        """Scheduled by fire(): DAC codes to 0 from thread context, between two bytecodes."""
        try:
            self._dac.zero_all()  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - the next tick's all_off tries again; pins are low
            pass

    def _irq(self, pin: "object") -> None:
        plan = self._plan  # park first: everything else can wait a few microseconds
        if plan is not None:
            _native_park(plan)
        else:
            try:
                self._park()
            except Exception:  # noqa: BLE001 - never raise out of a hard IRQ
                pass
        if pin is self._key_pin:  # the Pin the IRQ was set on: no allocation, no exception
            self.key_edges += 1
        elif pin is self._estop_pin:
            self.estop_edges += 1
        self._fired()

    def arm(self, inputs: "Tuple[_In, ...]") -> None:
        """Hard IRQ on the stopping edge of each input: inputs are (key, e-stop)."""
        self._key_pin = inputs[0].pin
        self._estop_pin = inputs[1].pin
        for i in inputs:
            i.pin.irq(handler=self._handler, trigger=i.stop_edge, hard=True)


class Hardware:
    """The board's pins, configured safe-first: outputs off before inputs are read."""

    def __init__(self, board: "Board") -> None:
        outs = board.outputs
        self.output_enable = _Out(outs.output_enable)
        stim: "List[Pin]" = []
        for n in board.stim_pins():
            stim.append(Pin(n, Pin.OUT, value=0))
        self.stim_pins = tuple(stim)
        self.status_led = _Out(outs.status_led)
        self.buzzer = _Buzzer(outs.buzzer)
        self.charge_pump: "Optional[_Out]" = None
        self.pump_level = False  # the pump pin's level (the tick's commit flips it: stim.controller)
        self.pump_mask = 0  # the pump pin's SIO bit: the tick's commit toggles it (stim.hal.outputs)
        if outs.charge_pump is not None:
            self.charge_pump = _Out(outs.charge_pump)
            self.pump_mask = 1 << outs.charge_pump.pin
        ins = board.inputs
        self.key = _In(ins.key)
        self.estop = _In(ins.estop)
        self.buttons = tuple(_In(ins.buttons[name]) for name in BUTTONS)
        self._btn_bits = tuple(1 << ins.buttons[name].pin for name in BUTTONS)
        flip = 0
        for name in BUTTONS:
            if not ins.buttons[name].active_level:
                flip |= 1 << ins.buttons[name].pin
        self._btn_flip = flip
        self._btn_all = 0
        for b in self._btn_bits:
            self._btn_all |= b
        # The key and the e-stop from the same SIO read: the pad's bit, and its value when active.
        self._key_bit = 1 << ins.key.pin
        self._key_on = self._key_bit if ins.key.active_level else 0
        self._estop_bit = 1 << ins.estop.pin
        self._estop_on = self._estop_bit if ins.estop.active_level else 0
        self.key_in = False  # sample()'s key and e-stop levels
        self.estop_in = False
        # Sense: ADC per channel (None without), and the scale to microamps.
        sense: "List[Optional[ADC]]" = []
        scale: "List[int]" = []
        for ch in board.channels:
            if ch.sense_adc is not None and ch.sense_ma_per_volt is not None:
                sense.append(ADC(Pin(ch.sense_adc)))
                # nA per count of read_u16(): mA/V * 3.3 V / 65535 counts * 1e6 nA/mA (read_senses divides by
                # 1000). It was uA per count with 3.3 V written as 3300, so readings came out 1000x too high
                # and any real current tripped "overcurrent". A reading times the scale stays below 2**30
                # (a small int on MicroPython: the tick allocates nothing) up to 300 mA/V, which the
                # board validator enforces (stim.board.SENSE_MA_PER_V_MAX).
                scale.append(int(ch.sense_ma_per_volt * 3_300_000 // 65535))
            else:
                sense.append(None)
                scale.append(0)
        self.sense = tuple(sense)
        self._sense_scale = tuple(scale)

    def outputs_off(self) -> None:
        self.output_enable.set(False)
        for p in self.stim_pins:
            p.value(0)

    def key_present(self) -> bool:
        """The key pad at its active level (one SIO read: _In.active()'s Pin.value() costs a call more)."""
        return mem32[_SIO_GPIO_IN] & self._key_bit == self._key_on  # type: ignore[no-any-return]

    def estop_released(self) -> bool:
        return mem32[_SIO_GPIO_IN] & self._estop_bit == self._estop_on  # type: ignore[no-any-return]

    def sample(self) -> int:
        """The tick's inputs in one call: key_in and estop_in from one read of the pads, and the
        buttons as buttons_mask() gives them. A call costs ~12 us on silicon: this replaced seven."""
        g = mem32[_SIO_GPIO_IN]  # every pad's level (bits 0..29: a small int)
        self.key_in = g & self._key_bit == self._key_on
        self.estop_in = g & self._estop_bit == self._estop_on
        # Pressed (active-low pads flipped) on this read and on the next, one after the other: a
        # spike shorter than one pass (tens of us) never counts as a press. The panel acts on + and
        # - from the first tick that sees them, so this is their glitch filter.
        v = (g ^ self._btn_flip) & (mem32[_SIO_GPIO_IN] ^ self._btn_flip) & self._btn_all
        return self._by_button(v) if v else 0  # nothing pressed (most ticks): no loop

    def buttons_mask(self) -> int:
        """Bit i set while BUTTONS[i] reads pressed on two reads of the pads, one after the other."""
        return self.sample()

    def _by_button(self, v: int) -> int:
        """Pad bits to button bits (bit i: BUTTONS[i])."""
        m = 0
        bit = 1
        for b in self._btn_bits:
            if v & b:
                m |= bit
            bit <<= 1
        return m

    def read_senses(self, out: "List[int]") -> None:
        """Each channel's measured current in uA into out, in one call (-1 for a channel without a
        sense line)."""
        adcs = self.sense
        scale = self._sense_scale
        c = len(adcs)
        while c:
            c -= 1
            adc = adcs[c]
            out[c] = -1 if adc is None else adc.read_u16() * scale[c] // 1000

    def toggle_charge_pump(self) -> None:
        """Dynamic enable: the output stage stays powered only while the tick keeps toggling."""
        if self.charge_pump is not None:
            self.pump_level = not self.pump_level
            self.charge_pump.set(self.pump_level)

    def stop_charge_pump(self) -> None:
        """No more toggles: the stage loses its supply after the board file's hold_ms."""
        if self.charge_pump is not None and self.pump_level:
            self.pump_level = False
            self.charge_pump.set(False)


def irq_off() -> int:
    """Hold back IRQs while the tick applies outputs, so a kill always lands after them."""
    return machine.disable_irq()  # type: ignore[no-any-return]


def irq_on(state: int) -> None:
    machine.enable_irq(state)  # type: ignore[arg-type]
