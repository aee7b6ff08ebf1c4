// Watchdog (RP2040 datasheet 4.7): an expiry, or a write of CTRL.TRIGGER (which is
// how pico-sdk's watchdog_reboot() and so MicroPython's machine.reset() reset the
// chip), resets the whole chip. What survives: the watchdog's REASON (TIMER bit 0,
// FORCE bit 1) and its eight SCRATCH registers. rp2040js only logged a warning.
// The bootrom's vectored boot (SCRATCH4 = 0xb007c0d3) is honoured for pc != 0.
const WDT = 0x40058;
const MAGIC = 0xb007c0d3;

export function install(chip) {
  const wdt = chip.mcu.peripherals[WDT];
  wdt.scratchData.set(chip.keep.scratch);
  wdt.reason = chip.keep.reason;
  wdt.onWatchdogTrigger = () => {
    chip.keep = { scratch: new Uint32Array(wdt.scratchData), reason: wdt.reason };
    chip.requestReset(wdt.reason & 1 ? 'watchdog' : 'watchdog-force');
  };
  // Vectored boot: the bootrom clears SCRATCH4 and jumps to SCRATCH7 with SP from SCRATCH6.
  const s = wdt.scratchData;
  if (s[4] === MAGIC && ((s[5] ^ -MAGIC) >>> 0) === s[7] >>> 0 && s[7] !== 0) {
    s[4] = 0;
    chip.vectoredBoot = { pc: s[7] & ~1, sp: s[6] };
  }
}
