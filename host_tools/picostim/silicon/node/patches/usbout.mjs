// USB host to device, bulk OUT (USB 2.0 spec 8.5.2; RP2040 datasheet 4.1.2.5): a host
// with nothing to send sends nothing, and the device's armed OUT buffer stays armed
// (the host's OUTs would be NAKed only if the device had no buffer). rp2040js's CDC
// host answered every armed OUT buffer at once with a zero-length packet when it
// had no data, so TinyUSB re-armed and took a USB interrupt about 37 times a
// millisecond: the core was never idle. Here an armed OUT buffer waits until the
// host has bytes, and then gets at most the buffer's size of them.
export function install(chip) {
  const cdc = chip.cdc;
  const usb = cdc.usb;
  let waiting = 0; // size of the device's armed OUT buffer that the host has not filled yet
  const fill = (size) => {
    const buffer = new Uint8Array(Math.min(size, cdc.txFIFO.itemCount));
    for (let i = 0; i < buffer.length; i++) buffer[i] = cdc.txFIFO.pull();
    usb.endpointReadDone(cdc.outEndpoint, buffer);
  };
  usb.onEndpointRead = (endpoint, size) => {
    if (endpoint !== cdc.outEndpoint) return;
    if (cdc.txFIFO.itemCount === 0) waiting = size;
    else fill(size);
  };
  chip.sendSerial = (bytes) => {
    for (const b of bytes) cdc.sendSerialByte(b);
    if (waiting && cdc.txFIFO.itemCount) {
      const size = waiting;
      waiting = 0;
      fill(size);
    }
  };
}
