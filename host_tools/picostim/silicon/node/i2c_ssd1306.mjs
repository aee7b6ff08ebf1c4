// An SSD1306 OLED controller as an I2C target (SSD1306 datasheet 8.1.5, I2C-bus write
// data): it ACKs its address and every byte written, a control byte (Co, D/C#) then
// commands or display data. It keeps no picture: the bus time it costs the firmware is
// what matters here, and that comes from patches/i2c.mjs. Reads return status 0x00.
export class Ssd1306 {
  constructor({ address = 0x3c } = {}) {
    this.address = address;
    this.messages = 0; // write messages (each a START .. STOP)
    this.bytes = 0; // bytes written, control bytes included
  }

  connect() {
    this.messages++;
    return true;
  }

  write() {
    this.bytes++;
    return true;
  }

  read() {
    return 0;
  }

  stop() {}

  busReset() {}

  powerOn() {}
}
