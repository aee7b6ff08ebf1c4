// One emulated RP2040 running the real MicroPython rp2 firmware, in lock-step:
// it runs only when told to, so the same commands give the same trace.
//
// rp2040js supplies the core and most peripherals. What it lacks and our
// firmware relies on comes from ./patches/*.mjs, each applied to every new
// chip (a watchdog or machine.reset() builds a fresh chip, keeping only what
// silicon keeps across a reset: flash, the watchdog's scratch and reason
// registers, and the world's wiring).
import { RP2040, USBCDC, ConsoleLogger, LogLevel } from 'rp2040js';
import { SimulationClock } from './node_modules/rp2040js/dist/esm/clock/simulation-clock.js';
import { PATCHES } from './patches/index.mjs';

const FLASH_BASE = 0x10000000;
const ROM_END = 0x4000;

export function loadUF2(flash, bytes) {
  let blocks = 0;
  for (let off = 0; off + 512 <= bytes.length; off += 512) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset + off, 512);
    if (dv.getUint32(0, true) !== 0x0a324655 || dv.getUint32(4, true) !== 0x9e5d5157) {
      throw new Error('not a UF2 file: bad magic in block ' + off / 512);
    }
    const addr = dv.getUint32(12, true);
    const size = dv.getUint32(16, true);
    if (addr < FLASH_BASE || addr + size > FLASH_BASE + flash.length) {
      throw new Error('UF2 block ' + off / 512 + ' targets 0x' + addr.toString(16) + ', outside flash');
    }
    flash.set(bytes.subarray(off + 32, off + 32 + size), addr - FLASH_BASE);
    blocks++;
  }
  return blocks;
}

export class Chip {
  constructor({ bootrom, flash, options = {} }) {
    this.bootrom = bootrom; // Uint32Array
    this.options = options; // patch settings: flash timing, etc.
    this.flashImage = flash; // Uint8Array, survives resets (the chip's copy is this one)
    this.baseNs = 0; // harness time at the current chip's power-on
    this.resets = []; // [ns, cause]
    this.pinListeners = []; // (ns, gpio, level) after every change of a pad
    this.serialListeners = []; // (bytes) from the device
    this.drive = new Map(); // gpio -> true/false (driven by the world); absent = not driven
    this.keep = { scratch: new Uint32Array(8), reason: 0 };
    this.stats = { busyNs: 0, idleNs: 0 };
    this.pendingReset = null;
    this.powerOn(0, 'power-on');
  }

  get nowNs() {
    return this.baseNs + this.clock.nanos;
  }

  // A fresh chip; silicon keeps flash, watchdog scratch/reason across a watchdog or
  // software reset, nothing across a power cut.
  powerOn(atNs, cause) {
    this.baseNs = atNs;
    this.clock = new SimulationClock();
    const mcu = new RP2040(this.clock);
    mcu.logger = new ConsoleLogger(LogLevel.Error);
    mcu.loadBootrom(this.bootrom); // reset() fills flash with 0xff: put ours back below
    mcu.flash.set(this.flashImage);
    this.flashImage = mcu.flash; // the patches write this array; the next chip copies it
    this.mcu = mcu;
    // A cycle's length follows clk_sys when the firmware reprograms the PLL (rp2040js recomputes
    // clkSys from the PLL and CLOCKS registers): the run loop reads it at every instruction.
    this.cycleNs = 1e9 / mcu.clkSys;
    mcu.addClockListener((hz) => { this.cycleNs = 1e9 / hz; });
    this.hooks = new Map(); // ROM pc -> handler(chip) ; returns true if it replaced the call
    this.onInstruction = []; // per-instruction observers (kept few: they cost time)
    this.cdc = new USBCDC(mcu.usbCtrl);
    this.usbConnected = false;
    this.cdc.onDeviceConnected = () => {
      this.usbConnected = true;
    };
    this.cdc.onSerialData = (buf) => {
      for (const fn of this.serialListeners) fn(buf);
    };
    for (const patch of PATCHES) patch.install(this);
    for (const [gpio, level] of this.drive) this.setInput(gpio, level);
    this.resets.push([atNs, cause]);
    for (let i = 0; i < mcu.gpio.length; i++) {
      const pin = mcu.gpio[i];
      pin.addListener(() => this.emitPin(i));
    }
    for (let i = 0; i < mcu.gpio.length; i++) this.emitPin(i);
    // The bootrom's flash boot ends by running boot2 from flash; start there, as
    // rp2040js's MicroPython demo does (its SSI cannot serve the bootrom's boot2 read).
    mcu.core.PC = FLASH_BASE;
    if (this.vectoredBoot) {
      mcu.core.PC = this.vectoredBoot.pc;
      mcu.core.SP = this.vectoredBoot.sp;
      this.vectoredBoot = null;
    }
  }

  // The pad's level as the world sees it: 1, 0, or null for floating.
  padLevel(i) {
    const pin = this.mcu.gpio[i];
    if (pin.outputEnable && !pin.outputDisable) return pin.outputValue ? 1 : 0;
    if (this.drive.has(i)) return this.drive.get(i) ? 1 : 0;
    if (pin.pullupEnabled && !pin.pulldownEnabled) return 1;
    if (pin.pulldownEnabled && !pin.pullupEnabled) return 0;
    return null;
  }

  emitPin(i) {
    const level = this.padLevel(i);
    const last = this.lastLevels || (this.lastLevels = new Array(30).fill(undefined));
    if (last[i] === level) return;
    last[i] = level;
    const ns = this.nowNs;
    for (const fn of this.pinListeners) fn(ns, i, level);
  }

  // The world drives a pad (true/false) or lets go of it (null).
  setInput(gpio, level) {
    if (level === null || level === undefined) this.drive.delete(gpio);
    else this.drive.set(gpio, !!level);
    if (this.refreshPad) this.refreshPad(gpio);
    else this.mcu.gpio[gpio].setInputValue(!!level);
    this.emitPin(gpio);
  }

  sendSerial(bytes) {
    for (const b of bytes) this.cdc.sendSerialByte(b);
  }

  // Ask for a whole-chip reset after the current instruction (watchdog, SYSRESETREQ).
  requestReset(cause) {
    if (!this.pendingReset) this.pendingReset = cause;
  }

  powerCut(offNs) {
    this.keep = { scratch: new Uint32Array(8), reason: 0 };
    this.powerOn(this.nowNs + offNs, 'power-cut');
  }

  // Run until nowNs >= untilNs, or stop() returns true (checked every ~10 us of chip time).
  run(untilNs, stop) {
    let checkAt = 0;
    while (this.nowNs < untilNs) {
      const clock = this.clock; // a reset below builds a new chip with its own clock
      checkAt = Math.min(checkAt, clock.nanos);
      const mcu = this.mcu;
      const core = mcu.core;
      const end = untilNs - this.baseNs;
      const obs = this.onInstruction;
      const hooks = this.hooks;
      while (clock.nanos < end && !this.pendingReset) {
        if (core.waiting) {
          // Asleep with no alarm due: only the world (between runs) can wake it; skip to the end.
          const toAlarm = clock.nextAlarm ? clock.nanosToNextAlarm : end - clock.nanos;
          const step = Math.min(toAlarm, end - clock.nanos);
          clock.tick(step > 0 ? step : this.cycleNs);
          this.stats.idleNs += step > 0 ? step : this.cycleNs;
        } else {
          const pc = core.PC;
          if (pc < ROM_END && hooks.size) {
            const h = hooks.get(pc & ~1);
            if (h && h(this)) continue;
          }
          const cycles = core.executeInstruction();
          const ns = cycles * this.cycleNs;
          clock.tick(ns);
          this.stats.busyNs += ns;
          for (let k = 0; k < obs.length; k++) obs[k](this);
        }
        if (clock.nanos >= checkAt) {
          checkAt = clock.nanos + 10000;
          if (stop && stop()) return true;
        }
      }
      if (this.pendingReset) {
        const cause = this.pendingReset;
        this.pendingReset = null;
        this.powerOn(this.nowNs, cause);
      }
    }
    return stop ? !!stop() : false;
  }
}
