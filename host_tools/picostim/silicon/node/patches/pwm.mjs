// PWM slices (RP2040 datasheet 4.5.2): the counter of a slice runs only while the
// slice is enabled (CSR.EN, or its bit in the EN register), and while it runs each
// output is high while the counter is below that channel's CC (the working copy,
// latched at wrap), XORed with the CSR A_INV/B_INV bit. So the outputs follow CC
// from the very first period after the enable, and a write that moves the counter
// or flips an INV bit shows on the pin at once. rp2040js differed:
//   - a write to DIV started the counter of a halted slice (its Timer32 prescaler
//     setter re-enables the timer): the slice counted, wrapped, raised its IRQ and
//     DREQ and toggled its outputs while halted, and was mid-count when enabled;
//   - the outputs were set only at wrap and at the compare match, so after the
//     enable a pin kept its old level for the whole first period (no pulse until
//     the first wrap), and an INV or CTR write showed only at the next such event;
//   - the EN register (4.5.3, offset 0xa0) read 0: PWMChannel has no `en` getter.
// Here a DIV write leaves the counter running only if the slice is enabled; after
// a write to CSR, CTR or EN, an enabled slice's outputs are set from its counter
// and working CC; EN reads the slices' CSR.EN bits. A halted slice keeps its pins
// as they were (pico-sdk pwm_set_enabled: they stay where the halt left them).
// Left as rp2040js has it, because it already matches the datasheet ("Double
// buffering"): CC and TOP latch at wrap, and values written while the slice is
// halted take effect at once (rp2040js latches them at the enable, before the
// first count). Phase-correct mode is not touched (the firmware does not use it).
const CSR = 0x00;
const DIV = 0x04;
const CTR = 0x08;
const CSR_EN = 1;

function refreshOutputs(ch) {
  if (!(ch.csr & CSR_EN)) return;
  const ctr = ch.timer.counter;
  ch.setA(ctr < ch.alarmA.target);
  ch.setB(ctr < ch.alarmB.target);
}

export function install(chip) {
  const pwm = chip.mcu.pwm;
  const proto = Object.getPrototypeOf(pwm.channels[0]);
  const setEn = Object.getOwnPropertyDescriptor(proto, 'en').set;
  for (const ch of pwm.channels) {
    const write = ch.writeRegister.bind(ch);
    ch.writeRegister = (offset, value) => {
      write(offset, value);
      if (offset === DIV) ch.updateEnable(); // the counter runs only if the slice is enabled
      if (offset === CSR || offset === CTR) refreshOutputs(ch);
    };
    Object.defineProperty(ch, 'en', {
      get: () => (ch.csr & CSR_EN ? 1 : 0),
      set: (value) => {
        const was = ch.csr & CSR_EN;
        setEn.call(ch, value);
        if (!was) refreshOutputs(ch);
      },
    });
  }
}
