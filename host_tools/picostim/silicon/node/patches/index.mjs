// The silicon behaviour rp2040js lacks, one module each; every new chip gets all
// of them, in this order. Each module's header cites the datasheet section it follows.
import * as pads from './pads.mjs';
import * as watchdog from './watchdog.mjs';
import * as flash from './flash.mjs';

export const PATCHES = [pads, watchdog, flash];
