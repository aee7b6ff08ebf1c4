// Watchdog (RP2040 datasheet 4.7): an expiry, or a write of CTRL.TRIGGER (which is
// how pico-sdk's watchdog_reboot() and so MicroPython's machine.reset() reset the
// chip), resets the whole chip. What survives: the watchdog's REASON (TIMER bit 0,
// FORCE bit 1) and its eight SCRATCH registers. rp2040js only logged a warning.
// The bootrom's vectored boot (SCRATCH4 = 0xb007c0d3) is honoured for pc != 0.
// An expiry fires once. rp2040js's watchdog counts down (TimerMode.Decrement, top
// 0xffffffff) and its periodic alarm, rescheduled at the expiry, found the counter at
// 2^32 (not wrapped to 0) and so set itself 2^33 >>> 0 = 0 cycles ahead: it fired again
// at the same instant, forever, inside one instruction, and the reset it had requested
// never came (emulated time stopped). On silicon the count reaching 0 resets the chip,
// watchdog included; here the alarm is disarmed as it fires and the reset follows the
// current instruction.
const WDT = 0x40058;
const MAGIC = 0xb007c0d3;

export function install(chip) {
  const wdt = chip.mcu.peripherals[WDT];
  wdt.scratchData.set(chip.keep.scratch);
  wdt.reason = chip.keep.reason;
  const expire = wdt.alarm.callback;
  wdt.alarm.callback = () => {
    wdt.alarm.enable = false; // Timer32PeriodicAlarm reschedules only while enabled
    expire();
  };
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
