// MCP4728 quad 12-bit DAC as an I2C target (Microchip DS22187E), for patches/i2c.mjs.
//
// Writes (5.6): Fast Write (C2 C1 = 00: per channel A, B, C, D, then A again,
// [0 0 PD1 PD0 D11..D8][D7..D0]); Multi-Write (01000 DAC1 DAC0 UDAC, then
// [VREF PD1 PD0 Gx D11..D8][D7..D0], the three bytes repeatable with a new channel);
// Sequential Write (01010 DAC1 DAC0 UDAC, then byte pairs from that channel to D;
// EEPROM too); Single Write (01011 DAC1 DAC0 UDAC + one pair; EEPROM too); Write
// VREF (100x VA VB VC VD), Gain (110x GA..GD) and Power-Down (101x PDA PDB, PDC
// PDD xxxx) bits. An input register is written at the ACK of its last byte; the
// output follows then if the LDAC pin is low or (Multi/Sequential/Single) UDAC is 0
// (Table 4-5: LDAC low updates all channels' outputs). Fast Write has no UDAC: with
// LDAC high its outputs wait. VREF/Gain/Power-Down writes update outputs at once.
// Read (5.7): 24 bytes, per channel the input register then EEPROM, 3 bytes each:
// [RDY/BSY POR DAC1 DAC0 0 A2 A1 A0][VREF PD1 PD0 Gx D11..D8][D7..D0].
// Not modelled: General Call (reset, wake-up, software update; address 0 NAKs), the
// address-bit write (it needs LDAC edges; NAKed), EEPROM write time (RDY/BSY stays 1).
//
// Every output update is a record [ns, channel 0..3 (A..D), code, pd] (pd 0 = on,
// 1..3 = powered down into 1k/100k/500k), sent to each of this.listeners.
const FAST = 0;
const MULTI = 0b01000;
const SEQUENTIAL = 0b01010;
const SINGLE = 0b01011;

const reg = () => ({ code: 0, vref: 0, pd: 0, gain: 0 });

export class Mcp4728 {
  constructor({ address = 0x60, ldac = 0 } = {}) {
    this.address = address;
    this.ldac = ldac ? 1 : 0; // the LDAC pin's level: 0 = tied low
    this.eeprom = [reg(), reg(), reg(), reg()]; // factory default: all zero
    this.listeners = [];
    this.input = this.eeprom.map((r) => ({ ...r }));
    this.output = this.eeprom.map((r) => ({ ...r }));
    this.msg = null;
  }

  // Power-on reset (after a power cut): input and output registers load from EEPROM.
  powerOn(ns) {
    this.input = this.eeprom.map((r) => ({ ...r }));
    this.msg = null;
    for (let ch = 0; ch < 4; ch++) this.upload(ns, ch, true);
  }

  emit(ns, ch) {
    const r = this.output[ch];
    for (const fn of this.listeners) fn([ns, ch, r.code, r.pd]);
  }

  // Output register <- input register; a record for the written channel, and for
  // any other whose output changes.
  upload(ns, ch, written) {
    const o = this.output[ch];
    const i = this.input[ch];
    const changed = o.code !== i.code || o.pd !== i.pd || o.vref !== i.vref || o.gain !== i.gain;
    this.output[ch] = { ...i };
    if (written || changed) this.emit(ns, ch);
  }

  // Input register `ch` written (hi: the upper data byte, whose layout the command
  // sets); the outputs follow per Table 4-5.
  latch(ns, ch, hi, lo, udac, fast) {
    const r = this.input[ch];
    r.code = ((hi & 0x0f) << 8) | lo;
    if (fast) {
      r.pd = (hi >> 4) & 3; // [C2 C1 PD1 PD0 D11..D8]
    } else {
      r.vref = hi >> 7; // [VREF PD1 PD0 Gx D11..D8]
      r.pd = (hi >> 5) & 3;
      r.gain = (hi >> 4) & 1;
    }
    if (this.ldac === 0) {
      for (let c = 0; c < 4; c++) this.upload(ns, c, c === ch);
    } else if (!udac) {
      this.upload(ns, ch, true);
    }
  }

  connect(read) {
    this.msg = { read, bytes: [], readPos: 0 };
    return true;
  }

  busReset() {
    this.msg = null;
  }

  write(byte, ns) {
    const m = this.msg;
    if (!m || m.read) return false;
    const b = m.bytes;
    b.push(byte);
    const n = b.length;
    const first = b[0];
    if (first >> 6 === FAST) {
      if (n % 2 === 0) this.latch(ns, (n / 2 - 1) % 4, b[n - 2], byte, 1, true);
      return true;
    }
    switch (first >> 3) {
      case MULTI: {
        // [cmd][upper][lower], repeated; a repeat's command bits are don't-care
        if ((n - 1) % 3 === 2) {
          const cmd = b[n - 3];
          this.latch(ns, (cmd >> 1) & 3, b[n - 2], byte, cmd & 1, false);
        }
        return true;
      }
      case SEQUENTIAL:
      case SINGLE: {
        const start = (first >> 1) & 3;
        const pair = (n - 1) >> 1;
        const last = first >> 3 === SINGLE ? start : 3;
        if (start + pair > last && n % 2 === 0) return false; // past channel D (or the single channel)
        if (n > 1 && n % 2 === 1) {
          const ch = start + pair - 1;
          this.latch(ns, ch, b[n - 2], byte, first & 1, false);
          m.eeprom = (m.eeprom || []).concat([ch]);
        }
        return true;
      }
      default:
        break;
    }
    switch (first >> 5) {
      case 0b100: // VREF bits
      case 0b110: // gain bits
        if (n > 1) return false;
        for (let ch = 0; ch < 4; ch++) {
          const bit = (byte >> (3 - ch)) & 1;
          if (first >> 5 === 0b100) this.input[ch].vref = bit;
          else this.input[ch].gain = bit;
          this.output[ch].vref = this.input[ch].vref;
          this.output[ch].gain = this.input[ch].gain;
        }
        return true;
      case 0b101: // power-down bits, over two bytes
        if (n === 2) {
          const pds = [(b[0] >> 2) & 3, b[0] & 3, (byte >> 6) & 3, (byte >> 4) & 3];
          for (let ch = 0; ch < 4; ch++) {
            this.input[ch].pd = pds[ch];
            this.output[ch].pd = pds[ch];
            this.emit(ns, ch);
          }
        }
        return n <= 2;
      default:
        return false; // address-bit write and reserved commands
    }
  }

  read() {
    const m = this.msg;
    if (!m || !m.read) return 0xff;
    const i = m.readPos++ % 24;
    const ch = Math.floor(i / 6);
    const r = i % 6 < 3 ? this.input[ch] : this.eeprom[ch];
    const a = this.address & 7;
    switch (i % 3) {
      case 0:
        return 0x80 | 0x40 | (ch << 4) | a; // RDY/BSY = 1 (ready), POR = 1
      case 1:
        return (r.vref << 7) | (r.pd << 5) | (r.gain << 4) | (r.code >> 8);
      default:
        return r.code & 0xff;
    }
  }

  stop() {
    const m = this.msg;
    this.msg = null;
    if (m && m.eeprom) for (const ch of m.eeprom) this.eeprom[ch] = { ...this.input[ch] };
  }
}
