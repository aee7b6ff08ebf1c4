// DMA paced by PWM wrap (RP2040 datasheet 2.5.3.1 "System DREQ table": DREQ 24..31
// are DREQ_PWM_WRAP0..7; 2.5.3.2 "Credit-based DREQ scheme"; 4.5.2: a slice's DREQ
// pulses once at each wrap of its counter). Each DMA channel keeps a saturating
// 6-bit counter of the pulses on the DREQ its TREQ_SEL names; it issues a transfer
// only while the counter is non-zero, and each transfer takes one off. CHn_DBG_CTDREQ
// reads the counter and a write clears it (rp2040js had the register; nothing counted). So
// a channel paced by a wrap does one transfer per wrap, and wraps that come while it
// is not running are credits it spends at once when next triggered.
// rp2040js's PWM set the DREQ at the first wrap and nothing cleared it: a paced
// channel ran all its transfers back to back, at the instant of its trigger or of
// the first wrap. (The firmware's pulse engine, whose paced channel D chains to C
// which restarts D, then looped forever at one instant and the emulator hung.)
// Here a wrap adds one credit (up to 63) to each channel that selects its DREQ, and
// a channel paced by a PWM DREQ issues a transfer only for a credit. Other DREQs
// (levels that their peripherals set and clear) are left as they were.
const DREQ_PWM_WRAP0 = 24;
const DREQ_PWM_WRAP7 = 31;
const COUNTER_MAX = 63;

const pacedByWrap = (ch) => ch.treq >= DREQ_PWM_WRAP0 && ch.treq <= DREQ_PWM_WRAP7;

export function install(chip) {
  const dma = chip.mcu.dma;
  for (const ch of dma.channels) {
    const alarm = ch.transferAlarm;
    // A paced transfer is queued on the clock (at once) and spends its credit when it
    // runs; one cancelled before it ran (EN cleared, CHAN_ABORT) spends none.
    let issued = false;
    const transfer = alarm.callback;
    alarm.callback = () => {
      if (issued) {
        issued = false;
        if (ch.dreqCounter > 0) ch.dreqCounter--;
      }
      transfer();
    };
    const cancel = alarm.cancel.bind(alarm);
    alarm.cancel = () => {
      issued = false;
      cancel();
    };
    const schedule = ch.scheduleTransfer.bind(ch);
    ch.scheduleTransfer = () => {
      if (!pacedByWrap(ch)) {
        schedule();
        return;
      }
      if (issued || ch.dreqCounter === 0) return;
      alarm.schedule(0);
      issued = true;
    };
  }
  const setDREQ = dma.setDREQ.bind(dma);
  dma.setDREQ = (dreq) => {
    if (dreq < DREQ_PWM_WRAP0 || dreq > DREQ_PWM_WRAP7) {
      setDREQ(dreq);
      return;
    }
    for (const ch of dma.channels) {
      if (ch.treq !== dreq) continue;
      if (ch.dreqCounter < COUNTER_MAX) ch.dreqCounter++;
      if (ch.active) ch.scheduleTransfer();
    }
  };
}
