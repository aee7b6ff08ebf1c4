// I2C controllers as bus masters with targets on the bus (RP2040 datasheet 4.3,
// the Synopsys DW_apb_i2c; IC_CON, IC_RAW_INTR_STAT, IC_TX_ABRT_SOURCE in 4.3.17).
// rp2040js lacked three things:
// - Bus time. Every START, address, data byte and STOP completed at once. Here each
//   takes its SCL periods, one period being IC_{SS,FS}_SCL_HCNT + _LCNT cycles of
//   ic_clk (= clk_sys): START and STOP 1, an address or data byte with its ACK 9
//   (so 400 kHz gives 22.5 us per byte). Rise times and IC_FS_SPKLEN are ignored.
// - TX_EMPTY as pico-sdk uses it. pico-sdk sets IC_CON.TX_EMPTY_CTRL, under which raw
//   TX_EMPTY means "TX FIFO at or below IC_TX_TL and the last popped command has
//   finished on the bus". rp2040js raised it when a command was popped and not at all
//   after an address NAK flushed the FIFO, so i2c_write_timeout_us() to an absent
//   target spun until its timeout (MicroPython: ETIMEDOUT after 50 ms, where silicon
//   gives EIO at once).
// - Targets. Every address NAKed. chip.i2cTargets (the world's wiring, kept across
//   resets) lists {bus, sda, scl, target}; a target answers its 7-bit target.address
//   when its pins (if given) are muxed to that controller (FUNCSEL 3). Target API:
//   connect(read, ns) -> ack, write(byte, ns) -> ack, read(ns) -> byte, stop(ns),
//   busReset() (the chip reset mid-message), and powerOn(ns) after a power cut (which
//   the targets share). Callbacks run at the ACK clock of the byte concerned, so ns
//   is when silicon would latch it.
const FUNC_I2C = 3;
const R_TX_EMPTY = 1 << 4;
const READ = 1; // rp2040js I2CMode.Read

function attach(chip, index) {
  const mcu = chip.mcu;
  const i2c = mcu.i2c[index];
  let pending = null;
  let inFlight = false; // a popped command (address or data byte) is still on the bus
  let current = null; // the target that ACKed this message's address
  const syncTxEmpty = () => {
    if (i2c.txFIFO.itemCount <= i2c.txThreshold && !inFlight) i2c.setInterrupts(R_TX_EMPTY);
    else i2c.clearInterrupts(R_TX_EMPTY);
  };
  const alarm = chip.clock.createAlarm(() => {
    const fn = pending;
    pending = null;
    inFlight = false;
    fn();
    syncTxEmpty();
  });
  const after = (periods, byte, fn) => {
    const cycles = i2c.sclHighPeriod + i2c.sclLowPeriod;
    pending = fn;
    inFlight = byte;
    alarm.schedule((periods * cycles * 1e9) / mcu.clkSys);
  };
  const wired = (w) =>
    w.bus === index &&
    (w.sda === undefined || mcu.gpio[w.sda].functionSelect === FUNC_I2C) &&
    (w.scl === undefined || mcu.gpio[w.scl].functionSelect === FUNC_I2C);

  i2c.onStart = () => after(1, false, () => i2c.completeStart());
  i2c.onConnect = (address, mode) =>
    after(9, true, () => {
      current = null;
      if (!(i2c.control & (1 << 4))) {
        // 7-bit addressing (IC_10BITADDR_MASTER clear)
        for (const w of chip.i2cTargets) {
          if (wired(w) && w.target.address === (address & 0x7f) && w.target.connect(mode === READ, chip.nowNs)) {
            current = w.target;
            break;
          }
        }
      }
      i2c.completeConnect(current !== null);
    });
  i2c.onWriteByte = (value) =>
    after(9, true, () => i2c.completeWrite(current !== null && !!current.write(value & 0xff, chip.nowNs)));
  i2c.onReadByte = () => after(9, true, () => i2c.completeRead(current ? current.read(chip.nowNs) & 0xff : 0xff));
  i2c.onStop = () =>
    after(1, false, () => {
      if (current) current.stop(chip.nowNs);
      current = null;
      i2c.completeStop();
    });
  const next = i2c.nextCommand.bind(i2c);
  i2c.nextCommand = () => {
    next();
    syncTxEmpty();
  };
  syncTxEmpty();
}

export function install(chip) {
  if (!chip.i2cTargets) {
    chip.i2cTargets = [];
    // The targets share the board's supply: a power cut resets them too (target.powerOn).
    const cut = chip.powerCut.bind(chip);
    chip.powerCut = (offNs) => {
      const at = chip.nowNs + (offNs || 0);
      for (const w of chip.i2cTargets) if (w.target.powerOn) w.target.powerOn(at);
      return cut(offNs);
    };
  }
  for (const w of chip.i2cTargets) if (w.target.busReset) w.target.busReset();
  attach(chip, 0);
  attach(chip, 1);
}

// Wire a target to controller `bus` (0 or 1), optionally only through GPIOs sda/scl.
export function addTarget(chip, { bus, sda, scl, target }) {
  if (bus !== 0 && bus !== 1) throw new Error('i2c bus must be 0 or 1');
  for (const [name, pin, role] of [['sda', sda, 0], ['scl', scl, 1]]) {
    // GPIO n carries I2C(n >> 1 & 1), SDA on n % 2 == 0 (datasheet 2.19.2, function table)
    if (pin !== undefined && (!Number.isInteger(pin) || pin < 0 || pin > 29 || ((pin >> 1) & 1) !== bus || pin % 2 !== role)) {
      throw new Error(`GPIO ${pin} cannot be I2C${bus} ${name.toUpperCase()}`);
    }
  }
  chip.i2cTargets = chip.i2cTargets.filter((w) => !(w.bus === bus && w.target.address === target.address));
  chip.i2cTargets.push({ bus, sda, scl, target });
}
