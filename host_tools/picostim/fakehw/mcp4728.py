"""MCP4728 quad 12-bit I2C DAC (Microchip DS22187) as a device on the model's I2C bus.

Attach it with `chip.i2c_devices[(bus_id, 0x60)] = Mcp4728(chip.clock)`; the
machine.I2C stand-in hands it every write (`i2c_write`) and read (`i2c_read`).

Write commands, from the first byte of a transaction (datasheet 5.6):

- 00xx xxxx  Fast Write: two bytes per channel, A, B, C, D (and on, wrapping):
             [0 0 PD1 PD0 D11..D8] [D7..D0]; VREF and gain keep their values.
- 0100 0ccu  Multi-Write: groups of three bytes, each group for channel cc:
             [0 1 0 0 0 DAC1 DAC0 UDAC] [VREF PD1 PD0 Gx D11..D8] [D7..D0].
- 0101 0ccu  Sequential Write: from channel cc to D, two bytes per channel as
             above (VREF PD Gx D11..D8, D7..D0), into the registers and EEPROM.
- 0101 1ccu  Single Write: one channel, two bytes, registers and EEPROM.
- 100x abcd  Write VREF bits; 110x abcd gain bits; 101x + 1 byte power-down bits.

The output of a channel (`codes`) follows its input register at the end of
that channel's bytes when the LDAC pin is low (`ldac = 0`, the default: LDAC
tied low) or, for Multi/Sequential/Single Write, when UDAC is 0; otherwise it
waits for LDAC to go low (`set_ldac(0)`). EEPROM writes complete at once (the
chip is busy for ~50 ms; the model does not make it so). Not modelled: the
Write I2C Address command (it needs LDAC toggled mid-byte) and the general
call commands (address 0).

Runs unchanged on CPython and on the MicroPython unix port.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, List, Optional, Tuple

    from .clock import Clock


class _Reg:
    __slots__ = ("code", "gain", "pd", "vref")

    def __init__(self, vref: int = 0, pd: int = 0, gain: int = 0, code: int = 0) -> None:
        self.vref = vref
        self.pd = pd
        self.gain = gain
        self.code = code

    def copy(self) -> "_Reg":
        return _Reg(self.vref, self.pd, self.gain, self.code)


class Mcp4728:
    """One MCP4728. `codes`, `pd`, `vref`, `gain`: what the four outputs (A..D) are set to."""

    VREF_INTERNAL_V = 2.048

    def __init__(self, clock: "Optional[Clock]" = None, address: int = 0x60) -> None:
        self.clock = clock
        self.address = address
        self.eeprom = [_Reg() for _ in range(4)]  # factory default: VDD reference, gain 1, on, code 0
        self.inputs = [r.copy() for r in self.eeprom]  # power-on: registers load from EEPROM
        self.outputs = [r.copy() for r in self.eeprom]
        self.ldac = 0
        self.writes = 0  # I2C write transactions
        self.history: List[Tuple[int, Tuple[int, ...]]] = [(self._now(), self.codes)]

    def _now(self) -> int:
        return self.clock.now_ns() if self.clock is not None else 0

    # What the four outputs (A..D) are set to.
    codes = property(lambda self: tuple(r.code for r in self.outputs))
    pd = property(lambda self: tuple(r.pd for r in self.outputs))
    vref = property(lambda self: tuple(r.vref for r in self.outputs))
    gain = property(lambda self: tuple(r.gain for r in self.outputs))

    def vout(self, ch: int, vdd: float = 5.0) -> float:
        """Output voltage of channel ch (0 when powered down)."""
        r = self.outputs[ch]
        if r.pd:
            return 0.0
        if r.vref:
            return self.VREF_INTERNAL_V * r.code / 4096 * (2 if r.gain else 1)
        return vdd * r.code / 4096

    # -- LDAC ------------------------------------------------------------------------------
    def set_ldac(self, level: int) -> None:
        self.ldac = 1 if level else 0
        if not self.ldac:
            for ch in range(4):
                self._upload(ch)

    def _upload(self, ch: int) -> None:
        before = self.codes
        self.outputs[ch] = self.inputs[ch].copy()
        if self.codes != before:
            self.history.append((self._now(), self.codes))

    def _set(self, ch: int, b1: int, b2: int, udac: int, fast: bool, eeprom: bool) -> None:
        r = self.inputs[ch]
        if fast:  # [C2 C1 PD1 PD0 D11..D8]
            r.pd = (b1 >> 4) & 3
        else:  # [VREF PD1 PD0 Gx D11..D8]
            r.vref = (b1 >> 7) & 1
            r.pd = (b1 >> 5) & 3
            r.gain = (b1 >> 4) & 1
        r.code = ((b1 & 0x0F) << 8) | b2
        if eeprom:
            self.eeprom[ch] = r.copy()
        if self.ldac == 0 or (not fast and udac == 0):
            self._upload(ch)

    # -- I2C ---------------------------------------------------------------------------------
    def i2c_write(self, data: bytes) -> None:
        self.writes += 1
        if not data:
            return  # an address probe
        c = data[0]
        if c >> 6 == 0:  # Fast Write
            ch = 0
            for i in range(0, len(data) - 1, 2):
                self._set(ch, data[i], data[i + 1], 1, True, False)
                ch = (ch + 1) & 3
            return
        top = c >> 3
        if top == 0b01000:  # Multi-Write: [cmd][b1][b2] per channel
            for i in range(0, len(data) - 2, 3):
                cmd = data[i]
                if cmd >> 3 != 0b01000:
                    raise ValueError("fakehw.mcp4728: Multi-Write group starts with %s, not 01000xxx" % hex(cmd))
                self._set((cmd >> 1) & 3, data[i + 1], data[i + 2], cmd & 1, False, False)
            return
        if top in (0b01010, 0b01011):  # Sequential (to D) / Single Write, with EEPROM
            ch = (c >> 1) & 3
            last = 3 if top == 0b01010 else ch
            i = 1
            while ch <= last and i + 1 < len(data):
                self._set(ch, data[i], data[i + 1], c & 1, False, True)
                ch += 1
                i += 2
            return
        kind = c >> 5
        if kind == 0b100:  # VREF bits A..D in bits 3..0
            for ch in range(4):
                self.inputs[ch].vref = (c >> (3 - ch)) & 1
                self.outputs[ch].vref = self.inputs[ch].vref
            return
        if kind == 0b110:  # gain bits
            for ch in range(4):
                self.inputs[ch].gain = (c >> (3 - ch)) & 1
                self.outputs[ch].gain = self.inputs[ch].gain
            return
        if kind == 0b101 and len(data) >= 2:  # power-down: PD A, B in byte 1, C, D in byte 2
            bits = ((c & 0x0F) << 4) | (data[1] >> 4)
            for ch in range(4):
                pd = (bits >> (6 - 2 * ch)) & 3
                self.inputs[ch].pd = pd
                self.outputs[ch].pd = pd
            return
        raise ValueError("fakehw.mcp4728: command byte %s is not modelled" % hex(c))

    def i2c_read(self, n: int) -> bytes:
        """24 bytes: per channel the DAC register (3 bytes) then its EEPROM (3 bytes)."""
        out = bytearray()
        for ch in range(4):
            for r in (self.inputs[ch], self.eeprom[ch]):
                out.append(0xC0 | (ch << 4) | (self.address & 7))  # RDY/BSY = 1 (ready), POR = 1 (powered)
                out.append((r.vref << 7) | (r.pd << 5) | (r.gain << 4) | (r.code >> 8))
                out.append(r.code & 0xFF)
        while len(out) < n:
            out.append(0xFF)
        return bytes(out[:n])


def attach(chip: "Any", bus_id: int = 0, address: int = 0x60) -> Mcp4728:
    """Put a fresh MCP4728 on chip's I2C bus bus_id at address; return it."""
    dev = Mcp4728(chip.clock, address)
    chip.i2c_devices[(bus_id, address)] = dev
    return dev
