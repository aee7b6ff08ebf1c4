// ADC inputs (RP2040 datasheet 4.9): AINSEL 0..3 sample GPIO 26..29, AINSEL 4 the
// on-chip temperature sensor (4.9.5: 0.706 V at 27 degC against a 3.3 V reference,
// about 876 counts). rp2040js samples RPADC.channelValues, which the world can set,
// but a fresh RP2040 object starts them all at 0 (a 437 degC die) and a reset builds
// a fresh one. Here the levels belong to the world: chip.adcValues (12-bit codes,
// set by the harness's "adc" op) survives resets and feeds every new chip.
export const TEMP_27C = 876;

export function install(chip) {
  if (!chip.adcValues) chip.adcValues = [0, 0, 0, 0, TEMP_27C];
  chip.mcu.adc.channelValues = chip.adcValues; // the same array: a later set reaches this chip
  chip.setAdcLevel = (channel, value) => setLevel(chip, channel, value);
}

// The world puts a level on ADC input `channel` (0..4) as a 12-bit code.
export function setLevel(chip, channel, value) {
  if (!Number.isInteger(channel) || channel < 0 || channel > 4) throw new Error('adc channel must be 0..4');
  if (!Number.isInteger(value) || value < 0 || value > 4095) throw new Error('adc value must be 0..4095');
  chip.adcValues[channel] = value;
  chip.mcu.adc.channelValues = chip.adcValues;
}
