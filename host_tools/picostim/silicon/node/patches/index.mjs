// The silicon behaviour rp2040js lacks, one module each; every new chip gets all
// of them, in this order. Each module's header cites the datasheet section it follows.
import * as pads from './pads.mjs';
import * as watchdog from './watchdog.mjs';
import * as flash from './flash.mjs';
import * as pwm from './pwm.mjs';
import * as dma from './dma.mjs';
import * as pio from './pio.mjs';
import * as usb from './usb.mjs';
import * as usbout from './usbout.mjs';
import * as adc from './adc.mjs';
import * as i2c from './i2c.mjs';

export const PATCHES = [pads, watchdog, flash, usb, usbout, pwm, dma, pio, adc, i2c];
