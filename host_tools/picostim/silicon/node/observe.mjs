// Measurements taken from the core as it runs, for the bench (nothing here changes behaviour).
//
// - masked windows: from the instruction that sets PRIMASK (cpsid i, MicroPython's
//   machine.disable_irq) to the one that clears it; the flash ROM calls count inside;
// - busy stretches: from a wake-up (WFE/WFI left) to the next sleep, as [start_ns, ns];
// - a profile of the PCs that run (16-byte lines), to find code that runs only in one
//   activity (e.g. only while gc.collect() runs);
// - watchdog feeds (writes of its LOAD register), as [ns, timeout loaded in ns];
// - PCs marked as "gc" (found by such a profile): a masked window in which any of them
//   ran is counted as a collection inside a masked window.
// Each observer costs a few operations per instruction, so each is off until asked for.
export class Observer {
  constructor(chip) {
    this.chip = chip;
    this.reset();
    this.fn = () => this.step();
  }

  reset() {
    this.maskedSince = -1;
    this.maskedMaxNs = 0;
    this.maskedMaxAt = 0;
    this.maskedCount = 0;
    this.maskedOver = 0; // windows longer than overNs
    this.overNs = 50000;
    this.gcInMasked = 0;
    this.gcThisWindow = false;
    this.gcRuns = 0; // entries into gc code seen (any mask state), for a sanity check
    this.inGc = false;
    this.lastNs = -1;
    this.stretchStart = -1;
    this.stretches = [];
    this.profile = null;
    this.windows = []; // [start_ns, ns] of each masked window longer than overNs
    this.feeds = []; // [ns, timeout ns] of each write of the watchdog's LOAD register (a feed)
  }

  enable(opts) {
    this.reset();
    this.gcPcs = new Set(opts.gc_pcs || []);
    this.overNs = opts.over_ns || 50000;
    this.wantStretches = !!opts.stretches;
    if (opts.profile) this.profile = new Map();
    const list = this.chip.onInstruction;
    if (!list.includes(this.fn)) list.push(this.fn);
    // Watchdog feeds: pico-sdk's watchdog_update() writes LOAD (offset 0x04, datasheet 4.7.6).
    const wdt = this.chip.mcu.peripherals[0x40058];
    if (!wdt._observed) {
      const write = wdt.writeUint32.bind(wdt);
      wdt.writeUint32 = (offset, value) => {
        // [ns, the timeout it loads in ns]: RP2040's counter runs down twice a microsecond
        // (pico-sdk loads 2 x delay_ms x 1000, erratum RP2040-E1).
        if ((offset & 0xfff) === 0x04 && wdt._observer) wdt._observer.feeds.push([this.chip.nowNs, (value >>> 0) * 500]);
        write(offset, value);
      };
      wdt._observed = true;
    }
    wdt._observer = this;
  }

  disable() {
    const list = this.chip.onInstruction;
    const i = list.indexOf(this.fn);
    if (i >= 0) list.splice(i, 1);
    this.closeStretch();
  }

  closeStretch() {
    if (this.stretchStart >= 0 && this.lastNs >= 0) this.stretches.push([this.stretchStart, this.lastNs - this.stretchStart]);
    this.stretchStart = -1;
  }

  step() {
    const chip = this.chip;
    const core = chip.mcu.core;
    const now = chip.nowNs;
    if (this.wantStretches) {
      // No instruction for more than a microsecond: the core slept in between.
      if (this.lastNs < 0 || now - this.lastNs > 1000) {
        this.closeStretch();
        this.stretchStart = this.lastNs < 0 ? now : now - 8;
      }
      if (core.waiting) {
        this.lastNs = now;
        this.closeStretch();
      }
    }
    this.lastNs = now;
    const pc = core.PC >>> 4;
    if (this.profile) this.profile.set(pc, (this.profile.get(pc) || 0) + 1);
    const gc = this.gcPcs.size && this.gcPcs.has(pc);
    if (gc && !this.inGc) this.gcRuns++;
    this.inGc = !!gc;
    if (core.PM) {
      if (this.maskedSince < 0) {
        this.maskedSince = now;
        this.gcThisWindow = false;
      }
      if (gc) this.gcThisWindow = true;
    } else if (this.maskedSince >= 0) {
      const ns = now - this.maskedSince;
      this.maskedCount++;
      if (ns > this.maskedMaxNs) {
        this.maskedMaxNs = ns;
        this.maskedMaxAt = this.maskedSince;
      }
      if (ns > this.overNs) {
        this.maskedOver++;
        if (this.windows.length < 10000) this.windows.push([this.maskedSince, ns]);
      }
      if (this.gcThisWindow) this.gcInMasked++;
      this.maskedSince = -1;
    }
  }

  report(take) {
    const r = {
      masked_max_ns: this.maskedMaxNs,
      masked_max_at_ns: this.maskedMaxAt,
      masked_count: this.maskedCount,
      masked_over: this.maskedOver,
      gc_in_masked: this.gcInMasked,
      gc_runs: this.gcRuns,
      stretches: this.stretches,
      feeds: this.feeds,
      windows: this.windows,
    };
    if (this.profile) r.profile = [...this.profile.entries()];
    if (take) {
      this.stretches = [];
      this.feeds = [];
      this.windows = [];
      if (this.profile) this.profile = new Map();
    }
    return r;
  }
}
