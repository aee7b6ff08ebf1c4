// PIO state machines (RP2040 datasheet 3.2, 3.4, 3.5, 3.7) in lock-step with the emulated clock.
// On silicon every enabled state machine runs one instruction cycle per tick of its clock
// divider (3.5.5): at divider 1 one per clk_sys cycle, so a pin edge a program makes lies on
// the cycle its instruction ran. rp2040js stepped the machines from a setTimeout loop, 1000
// steps a batch, between the harness's requests: no relation to emulated time, delay cycles
// ([n]) and the clock divider ignored. Here each machine runs on the chip's clock: one clock
// alarm per machine at the time of its next instruction cycle, so pins change (and chip.mjs
// stamps them) at the exact nanosecond. A `jmp x--`/`jmp y--` to itself is run in one step
// of (x + 1) x (1 + delay) cycles, its register and PC worked out again if anything looks
// at or changes the machine before it ends (SMn_ADDR/INSTR reads, SM register, CTRL or
// INSTR_MEM writes); nothing else can see a loop's count. A jump to itself that can never
// fall through (`jmp` always, `!x` with x 0, `!y` with y 0, `x!=y` with x != y) halts the
// machine until a write wakes it. rp2040js executes each instruction; this patch decides when.
//
// Also fixed, each against the datasheet:
//   - Autopull (3.5.4.2 pseudocode): an OUT finding the OSR empty (shift count at the
//     threshold) and data in the TX FIFO refills the OSR and stalls that cycle ("it cannot
//     fill an empty OSR and OUT it on the same cycle"); with the FIFO empty it stalls until
//     data comes; after an OUT and on every other cycle an empty OSR refills from the FIFO
//     in the background. rp2040js pulled only inside the OUT and shifted out at once, so the
//     TX FIFO drained one word later than silicon's and a stalled OUT finished the instant a
//     word was written. (FDEBUG.TXSTALL is set while an OUT stalls on the empty FIFO.)
//   - Side-set takes effect on an instruction's first cycle even if it stalls (3.5.1).
//   - A delay [n] adds n idle cycles after the instruction, or after its stall (3.4, the
//     Delay/side-set field).
//   - SHIFTCTRL.FJOIN_TX/FJOIN_RX (3.5.3 "FIFO Joining", 3.7 SHIFTCTRL): the joined FIFO is
//     8 deep, the other is unavailable (FSTAT shows it both full and empty), and changing
//     FJOIN discards the data in both FIFOs (pico-sdk pio_sm_clear_fifos toggles FJOIN_RX
//     twice for that). rp2040js kept two 4-deep FIFOs and flushed nothing.
//   - SMn_INSTR (3.5.7): the written instruction runs at once, in place of the one the
//     machine would run (so it ends a stall); the PC does not advance; delay cycles are
//     ignored; its pin writes reach the pads at once (rp2040js left them until its next
//     batch). One that stalls is latched (EXEC_STALLED) and the PC is kept when it ends.
//   - CTRL.SM_RESTART (3.7 CTRL) also clears the delay counter, an exec'd stalled
//     instruction (EXEC_STALLED) and a pending OUT stall.
//   - A stalled machine re-tries on its next cycle after what it waits for happens (a FIFO
//     write, a pin, an IRQ flag); rp2040js finished it inside the write. A disabled machine
//     does nothing (rp2040js finished its stalled OUT on a FIFO write even while disabled).
//   - DMA (2.5.3.2): a channel paced by a PIO FIFO DREQ moves a word only while the DREQ is
//     asserted (TX: FIFO not full, RX: not empty), checked when the transfer runs, so it
//     never overflows the FIFO (rp2040js checked only when it queued the transfer).
// Left as rp2040js has it, or approximated:
//   - A fractional divider: cycles are INT + FRAC/256 clk_sys cycles apart (the mean rate;
//     silicon's jitters by one clk_sys cycle); integer dividers are exact. CLKDIV_RESTART
//     is not modelled (at divider 1 it changes nothing). A machine's first cycle is the
//     clk_sys cycle after the enable.
//   - A background autopull caused by a FIFO write happens at the write, up to one cycle
//     before silicon's (the DMA's own timing is not cycle-exact either: rp2040js moves a
//     word the instant its DREQ asserts).
//   - On a running machine an SMn_INSTR write runs at the write and the machine's own next
//     cycle keeps its time (silicon: the written instruction takes that cycle).
//   - OUT/MOV EXEC runs the executee in the OUT's cycle (silicon: the next one); the input
//     synchronisers (2 cycles, INPUT_SYNC_BYPASS), OUT_STICKY and INLINE_OUT_EN are not
//     modelled; the OSR count after reset is rp2040js's (SM_RESTART empties it, as silicon).
import { DREQChannel } from '../node_modules/rp2040js/dist/esm/peripherals/dma.js';

const CTRL = 0x000;
const TXF0 = 0x010;
const TXF3 = 0x01c;
const INSTR_MEM0 = 0x048;
const INSTR_MEM31 = 0x0c4;
const SM0_CLKDIV = 0x0c8;
const SM_STRIDE = 0x18;
const SM3_PINCTRL = 0x124;
const REG_SHIFTCTRL = 0x08;
const REG_ADDR = 0x0c;
const REG_INSTR = 0x10;

const SHIFTCTRL_AUTOPULL = 1 << 17;
const FJOIN_TX = 1 << 30;
const FJOIN_RX = 1 << 31;
const EXECCTRL_SIDE_EN = 1 << 30;
const EXECCTRL_EXEC_STALLED = 1 << 31;
const FDEBUG_TXSTALL = 1 << 24;

const OP_JMP = 0;
const OP_OUT = 3;
const JMP_ALWAYS = 0;
const JMP_NOT_X = 1;
const JMP_X_DEC = 2;
const JMP_NOT_Y = 3;
const JMP_Y_DEC = 4;
const JMP_X_NE_Y = 5;
const EPS = 1e-6; // in cycles: absorbs float rounding of non-integer cycle lengths

const PIO_TX = new Set([0, 1, 2, 3, 8, 9, 10, 11].map((i) => DREQChannel.DREQ_PIO0_TX0 + i));
const PIO_RX = new Set([4, 5, 6, 7, 12, 13, 14, 15].map((i) => DREQChannel.DREQ_PIO0_TX0 + i));

export function install(chip) {
  const mcu = chip.mcu;
  const clock = mcu.clock;
  for (const pio of mcu.pio) installBlock(pio, clock, mcu);
  guardPioDreqs(mcu.dma);
}

function installBlock(pio, clock, mcu) {
  const sms = pio.machines;
  pio.run = () => {}; // no setTimeout batches: the clock alarms below run the machines
  const cycleNs = () => 1e9 / mcu.clkSys;
  // One machine cycle: the clock divider's INT + FRAC/256 clk_sys cycles (INT 0 means 65536).
  const period = (sm) => cycleNs() * ((sm.clockDivInt || 65536) + sm.clockDivFrac / 256);

  for (const sm of sms) {
    sm.t = Infinity; // time of the next instruction cycle (an alarm is set for it), or none
    sm.tLast = null; // time of the last cycle it ran: its cycles lie on tLast + k * period
    sm.loop = null; // a jmp x--/y-- loop run in one step: { t0, p, pc, n, reg }
    sm.halted = false; // in a jump to itself that cannot fall through
    sm.outStall = false; // an OUT waiting for the TX FIFO (autopull)
    sm.execPc = null; // the PC to keep when an exec'd instruction that stalled ends
    sm.inStep = false;
    sm.alarm = clock.createAlarm(() => fire(sm));
    const checkWait = sm.checkWait.bind(sm);
    sm.runCheckWait = checkWait;
    // rp2040js calls checkWait from FIFO accesses, IRQ and pin changes to finish a stall at
    // once; on silicon the machine re-tries on its next cycle (and only while enabled).
    sm.checkWait = () => {
      if (sm.inStep) checkWait();
      else if (sm.waiting) wake(sm);
    };
    sm.clkDivRestart = () => {};
    const writeFIFO = sm.writeFIFO.bind(sm);
    sm.writeFIFO = (value) => {
      writeFIFO(value);
      pushed(sm);
    };
  }

  function schedule(sm, t) {
    sm.t = t;
    sm.alarm.schedule(Math.max(0, t - clock.nanos));
  }

  function cancel(sm) {
    sm.alarm.cancel();
    sm.t = Infinity;
  }

  // The first cycle of the machine after `now`.
  function nextCycle(sm, now) {
    if (sm.tLast === null) return now + cycleNs();
    const p = period(sm);
    const k = Math.floor((now - sm.tLast) / p + EPS) + 1;
    return sm.tLast + k * p;
  }

  // A stalled or halted machine looks again on its next cycle.
  function wake(sm) {
    if (!sm.enabled || sm.t !== Infinity) return;
    sm.halted = false;
    schedule(sm, nextCycle(sm, clock.nanos));
  }

  // Put a loop run in one step back to its state at `now` (register, PC, next cycle).
  function sync(sm) {
    const f = sm.loop;
    if (!f) return;
    const done = Math.min(f.n + 1, Math.floor((clock.nanos - f.t0) / f.p + EPS) + 1);
    if (done > f.n) return; // its last iteration has run: the state is already the final one
    sm.loop = null;
    sm[f.reg] = (f.n - done) >>> 0;
    sm.pc = f.pc;
    sm.tLast = f.t0 + (done - 1) * f.p;
    schedule(sm, f.t0 + done * f.p);
  }

  function syncAll() {
    for (const sm of sms) sync(sm);
  }

  // After a write that may change what a machine does next: a running machine with no
  // cycle ahead (halted, or idle for no reason) runs its next cycle; a stalled one re-tries.
  function resume(sm) {
    if (!sm.enabled) {
      cancel(sm);
      return;
    }
    if (sm.t === Infinity) {
      sm.halted = false;
      schedule(sm, nextCycle(sm, clock.nanos));
    }
  }

  const autopull = (sm) => (sm.shiftCtrl & SHIFTCTRL_AUTOPULL) !== 0;
  const osrEmpty = (sm) => sm.outputShiftCount >= sm.pullThreshold;

  // 3.5.4.2: an empty OSR refills from a non-empty TX FIFO (shift count back to 0).
  function refill(sm) {
    if (!autopull(sm) || !osrEmpty(sm) || sm.txFIFO.empty) return false;
    sm.outputShiftReg = sm.txFIFO.pull();
    sm.outputShiftCount = 0;
    sm.updateDMATx();
    pio.checkInterrupts();
    return true;
  }

  // A word arrived in the TX FIFO (CPU or DMA).
  function pushed(sm) {
    if (!sm.enabled || !autopull(sm) || !osrEmpty(sm)) return;
    if (sm.outStall) {
      wake(sm); // its next cycle is an OUT cycle: that refills and stalls once more
      return;
    }
    // Any other cycle refills in the background; an OUT due on the very next cycle does it itself.
    const outNext = !sm.loop && !sm.waiting && !sm.halted && sm.t !== Infinity
      && pio.instructions[sm.pc] >>> 13 === OP_OUT
      && Math.abs(sm.t - nextCycle(sm, clock.nanos)) < EPS * period(sm);
    if (!outNext) refill(sm);
  }

  function delayOf(sm, op) {
    return ((op >> 8) & 0x1f) & ((1 << (5 - sm.sidesetCount)) - 1);
  }

  function sideSet(sm, op) {
    const count = sm.sidesetCount;
    const bits = (op >> 8) & 0x1f;
    const opt = (sm.execCtrl & EXECCTRL_SIDE_EN) !== 0;
    if (count && (!opt || bits & 0x10)) sm.setSideset(bits >> (5 - count), opt ? count - 1 : count);
  }

  // Run one machine cycle at the current clock time; cycles until the next one, 0 if it now
  // waits for something outside (a stall, a halt).
  function step(sm, now) {
    if (sm.waiting) {
      sm.runCheckWait(); // rp2040js's WAIT, IRQ WAIT, blocking PULL/PUSH, exec'd stall
      if (sm.waiting) {
        refill(sm);
        return 0;
      }
      if (sm.execPc !== null) {
        sm.pc = sm.execPc; // an exec'd instruction does not move the PC
        sm.execPc = null;
      }
      refill(sm);
      return 1 + Math.max(0, sm.waitDelay);
    }
    const op = pio.instructions[sm.pc];
    const kind = op >>> 13;
    if (kind === OP_OUT && autopull(sm) && osrEmpty(sm)) {
      if (!sm.outStall) sideSet(sm, op);
      if (refill(sm)) {
        sm.outStall = false;
        return 1; // filled this cycle, shifts out on the next
      }
      sm.outStall = true;
      pio.txStall |= FDEBUG_TXSTALL << sm.index;
      pio.fdebug |= pio.txStall;
      return 0;
    }
    sm.outStall = false;
    const per = 1 + delayOf(sm, op);
    if (kind === OP_JMP && (op & 0x1f) === sm.pc && !sm.execValid) {
      const cond = (op >> 5) & 7;
      if (cond === JMP_X_DEC || cond === JMP_Y_DEC) {
        const reg = cond === JMP_X_DEC ? 'x' : 'y';
        const n = sm[reg] >>> 0;
        sm.updatePC = true;
        sm.executeInstruction(op); // the first iteration, with its side-set
        if (n > 0) {
          const p = per * period(sm);
          sm.loop = { t0: now, p, pc: sm.pc, n, reg };
          sm[reg] = 0xffffffff; // as it leaves the loop, n iterations later
        }
        sm.nextPC();
        refill(sm);
        return (n + 1) * per;
      }
      const stuck = cond === JMP_ALWAYS || (cond === JMP_NOT_X && sm.x === 0)
        || (cond === JMP_NOT_Y && sm.y === 0) || (cond === JMP_X_NE_Y && sm.x >>> 0 !== sm.y >>> 0);
      if (stuck) {
        sm.updatePC = true;
        sm.executeInstruction(op);
        sm.halted = true;
        refill(sm);
        return 0;
      }
    }
    sm.updatePC = true;
    sm.executeInstruction(op);
    if (sm.waiting) {
      refill(sm);
      return 0;
    }
    if (sm.updatePC) sm.nextPC();
    refill(sm);
    return per;
  }

  function fire(sm) {
    const now = sm.t;
    sm.t = Infinity;
    sm.tLast = now;
    sm.loop = null;
    sm.inStep = true;
    let next;
    try {
      next = step(sm, now);
    } finally {
      sm.inStep = false;
    }
    pio.checkChangedPins();
    if (next > 0 && sm.enabled) schedule(sm, now + next * period(sm));
  }

  // 3.5.7: the instruction written to SMn_INSTR runs now, in place of the machine's own.
  function exec(sm, write, value) {
    sync(sm);
    sm.halted = false;
    sm.outStall = false;
    sm.waiting = false;
    sm.execPc = null;
    sm.execCtrl &= ~EXECCTRL_EXEC_STALLED;
    const pc = sm.pc;
    sm.nextPC = () => {}; // rp2040js advances it when a WAIT finishes at once
    sm.inStep = true;
    try {
      write(value);
    } finally {
      sm.inStep = false;
      delete sm.nextPC;
    }
    if (sm.waiting) sm.execPc = pc; // latched until it completes (EXEC_STALLED)
    pio.checkChangedPins();
    if (sm.enabled && sm.t === Infinity && !sm.waiting) schedule(sm, nextCycle(sm, clock.nanos));
  }

  // 3.5.3 / 3.7 SHIFTCTRL: FJOIN_TX joins the RX FIFO's storage onto the TX FIFO (8 words,
  // RX disabled) and FJOIN_RX the reverse; both FIFOs are flushed when either bit changes.
  function joinFIFOs(sm, old) {
    if (!((old ^ sm.shiftCtrl) & (FJOIN_TX | FJOIN_RX))) return;
    const tx = sm.shiftCtrl & FJOIN_TX;
    const rx = sm.shiftCtrl & FJOIN_RX;
    const FIFO = sm.txFIFO.constructor;
    // Both bits set is undefined in the datasheet: two 4-deep FIFOs here.
    sm.txFIFO = new FIFO(tx && !rx ? 8 : rx && !tx ? 0 : 4);
    sm.rxFIFO = new FIFO(rx && !tx ? 8 : tx && !rx ? 0 : 4);
    sm.updateDMATx();
    sm.updateDMARx();
    pio.checkInterrupts();
    if (sm.waiting) wake(sm);
  }

  const read = pio.readUint32.bind(pio);
  pio.readUint32 = (offset) => {
    if (offset >= SM0_CLKDIV && offset <= SM3_PINCTRL) {
      const reg = (offset - SM0_CLKDIV) % SM_STRIDE;
      const sm = sms[Math.floor((offset - SM0_CLKDIV) / SM_STRIDE)];
      if (reg === REG_ADDR || reg === REG_INSTR) sync(sm); // the PC inside a loop run in one step
    }
    return read(offset);
  };

  const write = pio.writeUint32.bind(pio);
  pio.writeUint32 = (offset, value) => {
    if (offset >= TXF0 && offset <= TXF3) {
      write(offset, value);
      return;
    }
    if (offset >= SM0_CLKDIV && offset <= SM3_PINCTRL) {
      const sm = sms[Math.floor((offset - SM0_CLKDIV) / SM_STRIDE)];
      const reg = (offset - SM0_CLKDIV) % SM_STRIDE;
      if (reg === REG_INSTR) {
        exec(sm, (v) => write(offset, v), value);
        return;
      }
      sync(sm);
      const old = sm.shiftCtrl;
      write(offset, value);
      if (reg === REG_SHIFTCTRL) joinFIFOs(sm, old);
      if (sm.enabled && sm.halted) resume(sm);
      return;
    }
    if (offset === CTRL) {
      syncAll();
      const was = sms.map((sm) => sm.enabled);
      write(offset, value);
      sms.forEach((sm, i) => {
        if (value & (1 << (4 + i))) {
          // SM_RESTART: rp2040js's restart() cleared shift counters, ISR and waits; also the
          // delay counter, an exec'd stall and an OUT stall.
          sm.loop = null;
          sm.halted = false;
          sm.outStall = false;
          sm.execPc = null;
          sm.execValid = false;
          sm.execCtrl &= ~EXECCTRL_EXEC_STALLED;
          cancel(sm);
        }
        if (sm.enabled && !was[i]) {
          sm.tLast = null;
          cancel(sm);
        }
        resume(sm);
      });
      return;
    }
    if (offset >= INSTR_MEM0 && offset <= INSTR_MEM31) {
      syncAll();
      write(offset, value);
      for (const sm of sms) if (sm.enabled && sm.halted) resume(sm);
      return;
    }
    write(offset, value);
  };
}

// 2.5.3.2: a channel paced by a DREQ transfers only while its DREQ is asserted. rp2040js
// checked the level when it queued the transfer; here it is checked again when the
// transfer runs, and a channel that finds it low waits for the next assertion (its
// setDREQ re-queues active channels on the rising edge).
function guardPioDreqs(dma) {
  for (const ch of dma.channels) {
    const alarm = ch.transferAlarm;
    const transfer = alarm.callback;
    alarm.callback = () => {
      const t = ch.treq;
      if ((PIO_TX.has(t) || PIO_RX.has(t)) && !dma.dreq[t]) return;
      transfer();
    };
  }
}
