// GPIO pads (RP2040 datasheet 2.19.4, 2.19.6.3): what a pin's input reads is the
// level on its pad. An output enabled onto the pad reads back its own level; an
// undriven pad follows its pull-up or pull-down; one the world drives reads what
// the world drives. rp2040js reads only the world's drive, so a pulled-up input
// with nothing attached read 0 and an output read whatever the world last set.
export function install(chip) {
  const mcu = chip.mcu;
  chip.refreshPad = (i) => {
    const level = chip.padLevel(i);
    // A floating pad with no pull reads as it last did (a slow drift on silicon);
    // 0 before anything has been read, as the model does.
    const pin = mcu.gpio[i];
    const v = level === null ? false : level === 1;
    if (pin._padLevel !== v) {
      pin._padLevel = v;
      pin.setInputValue(v);
    }
  };
  for (let i = 0; i < mcu.gpio.length; i++) {
    mcu.gpio[i].addListener(() => chip.refreshPad(i));
    chip.refreshPad(i);
  }
}
