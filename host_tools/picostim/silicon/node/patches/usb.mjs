// USB host that can stop reading the CDC serial port (RP2040 datasheet 4.1.2.5,
// "Buffer control": the processor hands a buffer to the controller by setting
// AVAILABLE; for an IN endpoint the controller sends it when the host polls with
// an IN token, and only then clears AVAILABLE and sets the endpoint's BUFF_STATUS
// bit. A host that stops polling leaves the endpoint NAKing: AVAILABLE stays set,
// FULL stays set, BUFF_STATUS stays clear, and the device's stack cannot refill it).
//
// rp2040js's USBCDC host reads every IN buffer at once: its controller clears
// AVAILABLE and raises BUFF_STATUS in the same register write that offered the
// buffer. Here, while chip.usbHostReading is false, a buffer offered on the CDC
// data class's bulk-in endpoint is held exactly as the device wrote it; when
// reading resumes, held buffers that are still offered complete in order and
// their bytes reach the host. Control and OUT transfers are untouched.
//
// The switch belongs to the host, not the chip: it is kept on the Chip object and
// survives a reset (a fresh chip's first bulk-in buffer is held too).
const EP0_IN_BUFFER_CONTROL = 0x80;
const EP15_OUT_BUFFER_CONTROL = 0xfc;
const AVAILABLE = 1 << 10;

export function install(chip) {
  if (chip.usbHostReading === undefined) chip.usbHostReading = true;
  const usb = chip.mcu.usbCtrl;
  const cdc = chip.cdc;
  const dpram = chip.mcu.usbDPRAMView;
  const offer = usb.DPRAMUpdated.bind(usb);
  const held = []; // buffer-control offsets, oldest first

  // Device-mode IN buffer control of the CDC bulk-in endpoint, with a buffer offered.
  const isBulkInOffer = (offset, value) =>
    !usb.hostMode &&
    cdc.inEndpoint > 0 &&
    offset >= EP0_IN_BUFFER_CONTROL &&
    offset <= EP15_OUT_BUFFER_CONTROL &&
    (offset & 4) === 0 &&
    (offset - EP0_IN_BUFFER_CONTROL) >> 3 === cdc.inEndpoint &&
    (value & (AVAILABLE | (AVAILABLE << 16))) !== 0;

  usb.DPRAMUpdated = (offset, value) => {
    if (!chip.usbHostReading && isBulkInOffer(offset, value)) {
      if (!held.includes(offset)) held.push(offset);
      return; // the buffer control word stays as written: AVAILABLE | FULL
    }
    offer(offset, value);
  };

  chip.setHostReading = (on) => {
    chip.usbHostReading = !!on;
    while (chip.usbHostReading && held.length) {
      const offset = held.shift();
      const value = dpram.getUint32(offset, true); // the device may have withdrawn it
      if (value & (AVAILABLE | (AVAILABLE << 16))) offer(offset, value);
    }
  };
  chip.usbHeldBuffers = () => held.length;
}
