// PicoStim's silicon harness: one emulated RP2040 (rp2040js + ./patches) driven
// from Python over stdin/stdout, one JSON object per line each way.
//
//   node harness.mjs --bootrom ROM.bin (--uf2 FW.uf2 | --flash IMAGE.bin) [--flash-timing typical|worst|zero]
//                    [--mcp4728 BUS[:SDA:SCL]]   (an MCP4728 DAC at 0x60 on I2C BUS; see the mcp4728 op)
//
// Every request gets exactly one reply line: {"ok": true, ...} or {"ok": false,
// "error": "..."}. The chip runs only inside a "run" request, so a script of
// requests gives the same trace every time. Serial bytes travel as strings with
// one char per byte (code points 0..255). Pins are reported as [ns, gpio, level]
// with level 1, 0 or null (floating).
import fs from 'fs';
import readline from 'readline';
import { Chip, loadUF2 } from './chip.mjs';
import { Observer } from './observe.mjs';
import { Mcp4728 } from './i2c_mcp4728.mjs';
import { Ssd1306 } from './i2c_ssd1306.mjs';
import { addTarget } from './patches/i2c.mjs';

function parseArgs(argv) {
  const a = {};
  for (let i = 0; i < argv.length; i++) {
    if (!argv[i].startsWith('--')) throw new Error('unexpected argument ' + argv[i]);
    a[argv[i].slice(2)] = argv[i + 1];
    i++;
  }
  return a;
}

function bytesToStr(buf) {
  let s = '';
  for (const b of buf) s += String.fromCharCode(b);
  return s;
}

function strToBytes(s) {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255) throw new Error('serial data must be bytes (code points 0..255)');
    out[i] = c;
  }
  return out;
}

const FLASH_SIZE = 2 * 1024 * 1024;

function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!args.bootrom) throw new Error('--bootrom is required');
  const rom = fs.readFileSync(args.bootrom);
  const bootrom = new Uint32Array(rom.buffer.slice(rom.byteOffset, rom.byteOffset + rom.length));
  const flash = new Uint8Array(FLASH_SIZE).fill(0xff);
  if (args.flash) flash.set(fs.readFileSync(args.flash).subarray(0, FLASH_SIZE));
  else if (args.uf2) loadUF2(flash, fs.readFileSync(args.uf2));
  else throw new Error('--uf2 or --flash is required');
  const options = { flash: args['flash-timing'] || 'typical' };
  const chip = new Chip({ bootrom, flash, options });

  let serial = [];
  let pins = [];
  let traceMask = 0x3fffffff;
  chip.serialListeners.push((buf) => {
    for (const b of buf) serial.push(b);
  });
  chip.pinListeners.push((ns, gpio, level) => {
    if (traceMask & (1 << gpio)) pins.push([ns, gpio, level]);
  });
  // MCP4728 DAC outputs, [ns, channel, code, pd] per update, until a "dac" request takes them.
  let dac = [];
  let mcp4728 = null;
  const attachMcp4728 = ({ bus, sda, scl, address = 0x60, ldac = 0 }) => {
    const dev = new Mcp4728({ address, ldac });
    if (mcp4728) chip.i2cTargets = chip.i2cTargets.filter((w) => w.target !== mcp4728);
    dev.listeners.push((rec) => dac.push(rec));
    addTarget(chip, { bus, sda, scl, target: dev });
    mcp4728 = dev;
    return { codes: dev.output.map((r) => r.code) };
  };
  if (args.mcp4728 !== undefined) {
    const [bus, sda, scl] = args.mcp4728.split(':').map(Number);
    attachMcp4728({ bus, sda, scl });
  }
  let oled = null;
  const attachSsd1306 = ({ bus, sda, scl, address = 0x3c }) => {
    if (oled) chip.i2cTargets = chip.i2cTargets.filter((w) => w.target !== oled);
    oled = new Ssd1306({ address });
    addTarget(chip, { bus, sda, scl, target: oled });
    return {};
  };
  // Pins that the replies have not yet carried, as the current levels.
  const levels = () => chip.mcu.gpio.map((_, i) => chip.padLevel(i));

  let observer = null; // bench measurements (observe.mjs); lost on a reset, as the chip is new
  const handlers = {
    observe: (req) => {
      if (observer) observer.disable();
      observer = null;
      if (req.on) {
        observer = new Observer(chip);
        observer.enable(req);
      }
      return {};
    },
    observations: (req) => {
      if (!observer) throw new Error('no observer: send {"op": "observe", "on": true} first');
      return observer.report(!!req.take);
    },
    hello: () => ({ flash_size: FLASH_SIZE, options, now_ns: chip.nowNs }),
    run: (req) => {
      const until = req.until_ns !== undefined ? req.until_ns : chip.nowNs + (req.for_ns || 0);
      const text = req.until_text !== undefined ? strToBytes(req.until_text) : null;
      const textFrom = serial.length;
      let stopped = null;
      const stop = () => {
        if (text && indexOf(serial, text, Math.max(0, textFrom - text.length)) >= 0) stopped = 'text';
        return stopped !== null;
      };
      chip.run(until, stop);
      const reply = { now_ns: chip.nowNs, serial: bytesToStr(serial), pins, stopped: stopped || 'time' };
      serial = [];
      pins = [];
      return reply;
    },
    input: (req) => {
      chip.setInput(req.gpio, req.level);
      return {};
    },
    serial: (req) => {
      chip.sendSerial(strToBytes(req.data));
      return {};
    },
    trace: (req) => {
      traceMask = req.mask >>> 0;
      return { levels: levels() };
    },
    levels: () => ({ levels: levels(), now_ns: chip.nowNs }),
    power_cut: (req) => {
      chip.powerCut(req.off_ns || 0);
      return { now_ns: chip.nowNs };
    },
    stats: () => ({
      now_ns: chip.nowNs,
      busy_ns: chip.stats.busyNs,
      idle_ns: chip.stats.idleNs,
      resets: chip.resets,
      flash_ops: chip.flashOps || 0,
      flash_busy_ns: chip.flashBusyNs || 0,
      usb_connected: chip.usbConnected,
      clk_sys_hz: chip.mcu.clkSys,
    }),
    save_flash: (req) => {
      fs.writeFileSync(req.path, chip.flashImage);
      return { bytes: chip.flashImage.length };
    },
    peek32: (req) => ({ value: chip.mcu.readUint32(req.addr) >>> 0 }),
    // The USB host stops (false) or resumes (true) reading the CDC bulk-in endpoint (patches/usb.mjs).
    host_reading: (req) => {
      chip.setHostReading(!!req.on);
      return { host_reading: chip.usbHostReading, held: chip.usbHeldBuffers() };
    },
    // The world's level on ADC input `channel` (0..3 = GPIO 26..29, 4 = temperature), 12-bit (patches/adc.mjs).
    adc: (req) => {
      chip.setAdcLevel(req.channel, req.value);
      return { adc: chip.adcValues };
    },
    // Wire an MCP4728 to I2C controller `bus` (through GPIOs sda/scl if given), replacing any earlier one.
    mcp4728: (req) => attachMcp4728(req),
    ssd1306: (req) => attachSsd1306(req),
    oled: () => ({ messages: oled ? oled.messages : 0, bytes: oled ? oled.bytes : 0 }),
    // The MCP4728's output updates since the last "dac" request, and its output codes now.
    dac: () => {
      if (!mcp4728) throw new Error('no MCP4728 attached (mcp4728 op or --mcp4728)');
      const reply = { dac, codes: mcp4728.output.map((r) => r.code), now_ns: chip.nowNs };
      dac = [];
      return reply;
    },
    exit: () => {
      process.exit(0);
    },
  };

  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  rl.on('line', (line) => {
    let reply;
    try {
      const req = JSON.parse(line);
      const h = handlers[req.op];
      if (!h) throw new Error('unknown op ' + JSON.stringify(req.op));
      reply = { ok: true, ...h(req) };
    } catch (e) {
      reply = { ok: false, error: String(e && e.stack ? e.stack : e) };
    }
    process.stdout.write(JSON.stringify(reply) + '\n');
  });
  rl.on('close', () => process.exit(0));
  process.stdout.write(JSON.stringify({ ok: true, ready: true }) + '\n');
}

function indexOf(hay, needle, from) {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

try {
  main();
} catch (e) {
  process.stdout.write(JSON.stringify({ ok: false, error: String(e && e.message ? e.message : e) }) + '\n');
  process.exit(2);
}
