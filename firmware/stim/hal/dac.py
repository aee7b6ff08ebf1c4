"""Amplitude drivers: the current of each stimulation channel, as a DAC code (0..code_max).

The board file picks one (docs/board-file.md, `amplitude`):

- PwmDac: one filtered-PWM output per channel (`amplitude.pins`, `pwm_hz`).
  The code is the compare level: a slice period has at least code_max + 1
  counts, and duty_u16 is chosen so that machine.PWM's own rounding lands on
  CC == code exactly.
- Mcp4728Dac: the MCP4728 quad 12-bit I2C DAC; channel i drives DAC output
  `channels[i].amp`. set_code() is a Multi-Write of one channel (UDAC = 0, VDD
  reference, gain 1); zero_all() one Fast Write of four zeros.

Both: set_code(ch, code) with ch the stimulation channel index, zero_all(),
and `pads`, the GPIO CTRL registers that stim.hal.outputs.ChannelOutputs.commit
hands back to PWM after a kill parked them (none for the MCP4728). Nothing
allocates in set_code() or zero_all() (buffers are preallocated; for PwmDac,
code_max * 65535 must stay below 2**30, which holds for code_max <= 16383).
The kill path zeroes the codes from thread context (micropython.schedule),
never from its hard IRQ: the MCP4728 shares its I2C bus with the OLED.
An I2C failure raises OSError: the caller decides (the kill path catches it).
"""

from machine import I2C, PWM, Pin, mem32
from micropython import const

from stim.boardspec import pwm_slice

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

    from stim.boardspec import Board

_PWM_TOP0 = const(0x40050010)  # slice 0 TOP; slice s at + 0x14 s
_IO_BANK0_CTRL = const(0x40014004)
_FUNC_PWM = const(4)
_MCP_MULTI_WRITE = const(0x40)  # 0 1 0 0 0 DAC1 DAC0 UDAC


class PwmDac:
    """Filtered-PWM DAC: channel i's code is the duty of pin amplitude.pins[channels[i].amp]."""

    def __init__(self, board: "Board") -> None:
        amp = board.amplitude
        if amp.pwm_hz is None:
            raise ValueError("amplitude: the pwm_dac driver needs pwm_hz")
        self.code_max = amp.code_max
        pins = []
        pwms = []
        tops = []
        for ch in board.channels:
            p = amp.pins[ch.amp]
            pins.append(p)
            pwms.append(PWM(Pin(p), freq=amp.pwm_hz, duty_u16=0))
            tops.append(mem32[_PWM_TOP0 + 0x14 * pwm_slice(p)] + 1)
        for t in tops:
            if t < self.code_max + 1:
                raise ValueError("amplitude.pwm_hz: %d Hz leaves %d counts per period, fewer than code_max + 1"
                                 % (amp.pwm_hz, t))
        self._pwms = tuple(pwms)
        self._k = tuple(tops)  # counts per period (TOP + 1)
        self.pads = tuple(_IO_BANK0_CTRL + 8 * p for p in pins)  # GPIO CTRL of each DAC pad

    def set_code(self, ch: int, code: int) -> None:
        if code <= 0:
            code = 0
        elif code > self.code_max:
            code = self.code_max
        k = self._k[ch]
        # machine_pwm.c sets CC = (u * K + 32767) // 65535; this u makes that exactly `code`.
        self._pwms[ch].duty_u16((code * 65535 + k // 2) // k)

    def zero_all(self) -> None:
        for p in self._pwms:
            p.duty_u16(0)


class Mcp4728Dac:
    """MCP4728 on the board's I2C bus: channel i drives DAC output channels[i].amp (0..3)."""

    def __init__(self, board: "Board", i2c: "Optional[Any]" = None) -> None:
        amp = board.amplitude
        if amp.bus is None or amp.address is None:
            raise ValueError("amplitude: the mcp4728 driver needs bus and address")
        if i2c is None:
            bus = board.i2c[amp.bus]
            i2c = I2C(bus.id, scl=Pin(bus.scl), sda=Pin(bus.sda), freq=bus.freq)
        self._i2c = i2c
        self._addr = amp.address
        self.code_max = amp.code_max
        self._out = tuple(ch.amp for ch in board.channels)
        self.pads: "tuple[int, ...]" = ()  # no GPIO pads: the outputs live on the MCP4728
        self._buf = bytearray(3)
        self._zero = bytearray(8)  # Fast Write: PD = 00 (on), code 0, channels A..D
        init = bytearray(12)  # Multi-Write of all four: VDD reference, on, gain 1, code 0, output now
        for d in range(4):
            init[3 * d] = _MCP_MULTI_WRITE | (d << 1)
        self._i2c.writeto(self._addr, init)

    def set_code(self, ch: int, code: int) -> None:
        if code <= 0:
            code = 0
        elif code > self.code_max:
            code = self.code_max
        b = self._buf
        b[0] = _MCP_MULTI_WRITE | (self._out[ch] << 1)  # UDAC = 0: the output follows at once
        b[1] = code >> 8  # VREF = 0 (VDD), PD = 00, gain 1
        b[2] = code & 0xFF
        self._i2c.writeto(self._addr, b)

    def zero_all(self) -> None:
        self._i2c.writeto(self._addr, self._zero)


def make(board: "Board") -> "Any":
    """The amplitude driver the board file names."""
    if board.amplitude.driver == "mcp4728":
        return Mcp4728Dac(board)
    return PwmDac(board)
