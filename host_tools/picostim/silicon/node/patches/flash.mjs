// Flash erase and program through the bootrom's routines (RP2040 datasheet 2.8.3.1.3,
// "flash_range_erase" 'RE' and "flash_range_program" 'RP'). rp2040js's SSI does not
// speak to a flash chip, so these calls did nothing and littlefs could not write.
// The routines are replaced at their entry: the data changes as the flash would
// change it, and the core stays in the call (with the interrupts its caller already
// masked) for as long as the flash is busy. Times follow the W25Q16JV datasheet
// (tSE 4 KB sector erase, tBE2 64 KB block erase, tPP page program), typical or
// maximum as options.flash says; "zero" gives the old instant flash.
const ROM_FUNC_TABLE_PTR = 0x14;

export const FLASH_TIMING = {
  zero: { sector_erase_ns: 0, block_erase_ns: 0, page_program_ns: 0 },
  typical: { sector_erase_ns: 45e6, block_erase_ns: 150e6, page_program_ns: 0.4e6 },
  worst: { sector_erase_ns: 400e6, block_erase_ns: 2000e6, page_program_ns: 3e6 },
};

export function romFunction(bootrom, code) {
  const bytes = new Uint8Array(bootrom.buffer, bootrom.byteOffset, bootrom.byteLength);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let i = dv.getUint16(ROM_FUNC_TABLE_PTR, true);
  const want = code.charCodeAt(0) | (code.charCodeAt(1) << 8);
  for (;;) {
    const c = dv.getUint16(i, true);
    if (c === 0) throw new Error('bootrom has no function ' + code);
    if (c === want) return dv.getUint16(i + 2, true) & ~1;
    i += 4;
  }
}

function returnFrom(chip, busyNs) {
  const core = chip.mcu.core;
  core.PC = core.LR & ~1;
  // The stall runs in 100 us steps, so a watchdog that expires during it resets the chip
  // at its own time, not at the end of the erase (the reset stops the flash op half done).
  let left = busyNs;
  while (left > 0 && !chip.pendingReset) {
    const step = Math.min(left, 100000);
    chip.clock.tick(step);
    chip.stats.busyNs += step;
    left -= step;
  }
  chip.flashBusyNs = (chip.flashBusyNs || 0) + busyNs - left;
  chip.flashOps = (chip.flashOps || 0) + 1;
  return true;
}

export function install(chip) {
  const t = typeof chip.options.flash === 'object' ? chip.options.flash : FLASH_TIMING[chip.options.flash || 'typical'];
  if (!t) throw new Error('unknown flash timing ' + chip.options.flash);
  const flash = chip.mcu.flash;
  const r = chip.mcu.core.registers;
  chip.hooks.set(romFunction(chip.bootrom, 'RE'), () => {
    let addr = r[0] >>> 0;
    let count = r[1] >>> 0;
    const blockSize = r[2] >>> 0;
    let ns = 0;
    while (count > 0 && addr < flash.length) {
      // As the ROM does: whole aligned blocks with the block command, the rest by 4 KB sectors.
      if (blockSize > 4096 && addr % blockSize === 0 && count >= blockSize) {
        flash.fill(0xff, addr, addr + blockSize);
        addr += blockSize;
        count -= blockSize;
        ns += t.block_erase_ns;
      } else {
        const start = addr - (addr % 4096);
        flash.fill(0xff, start, start + 4096);
        addr = start + 4096;
        count = count > 4096 ? count - 4096 : 0;
        ns += t.sector_erase_ns;
      }
    }
    return returnFrom(chip, ns);
  });
  chip.hooks.set(romFunction(chip.bootrom, 'RP'), () => {
    const addr = r[0] >>> 0;
    const src = r[1] >>> 0;
    const count = r[2] >>> 0;
    let pages = 0;
    let lastPage = -1;
    for (let i = 0; i < count; i++) {
      const a = addr + i;
      if (a >= flash.length) break;
      // NOR programming can only clear bits.
      flash[a] &= chip.mcu.readUint8(src + i);
      const page = a >>> 8;
      if (page !== lastPage) {
        pages++;
        lastPage = page;
      }
    }
    return returnFrom(chip, pages * t.page_program_ns);
  });
}
