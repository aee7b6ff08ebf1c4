"""GPIO pads, watchdog reset and flash on the emulated chip, against the RP2040 datasheet.

- Pads (2.19.4, 2.19.6.3): an input reads its pad: the pull with nothing attached, the
  world's level when driven, and an output reads back its own level.
- Watchdog (4.7): machine.reset() (pico-sdk's watchdog_reboot: CTRL.TRIGGER) resets the whole
  chip; REASON and the SCRATCH registers survive it, so reset_cause() is WDT_RESET (3); a
  power cut clears them (PWRON_RESET, 1).
- Flash (2.8.3.1.3 flash_range_erase / flash_range_program; W25Q16JV tSE 45 ms typical): a
  littlefs write works, survives a reset, and each sector erase holds the core with IRQs
  masked for the flash's time.
"""

from picostim.silicon.chip import Silicon
from picostim.silicon.repl import RawRepl, boot_to_repl

MS = 1_000_000
SCRATCH0 = 0x4005800C


def test_pads_read_pulls_the_world_and_their_own_output(repl: RawRepl, chip: Silicon) -> None:
    out = repl.exec("from machine import Pin\n"
                    "u=Pin(20,Pin.IN,Pin.PULL_UP); d=Pin(21,Pin.IN,Pin.PULL_DOWN); o=Pin(22,Pin.OUT,value=1)\n"
                    "print(u.value(), d.value(), o.value()); o.value(0); print(o.value())")
    assert out.split() == ["1", "0", "1", "0"]
    assert chip.levels[20] == 1 and chip.levels[21] == 0 and chip.levels[22] == 0
    chip.set_input(20, 0)  # a closed switch to ground beats the pull-up
    chip.set_input(21, 1)
    assert repl.exec("print(u.value(), d.value())").split() == ["0", "1"]
    chip.set_input(20, None)
    chip.set_input(21, None)
    assert repl.exec("print(u.value(), d.value())").split() == ["1", "0"]


def test_flash_writes_persist_and_each_erase_stalls_with_irqs_masked() -> None:
    with Silicon(flash_timing="typical", keep_pins=False) as chip:
        repl = boot_to_repl(chip)
        before = chip.stats()
        chip.observe()
        repl.exec("f=open('/t.bin','wb')\nfor i in range(6):\n    f.write(bytes([i])*1024)\nf.close()")
        obs = chip.observations()
        after = chip.stats()
        assert after["flash_ops"] > before["flash_ops"]
        erased_ns = after["flash_busy_ns"] - before["flash_busy_ns"]
        assert erased_ns >= 45 * MS  # at least one 4 KB sector erase at tSE typical
        assert obs["masked_max_ns"] >= 45 * MS  # the ROM call runs with IRQs held back
        chip.write(b"\x02")
        chip.run_for(20 * MS)
        chip.write(b"import machine; machine.mem32[%d] = 0x5a5a1234; machine.reset()\r" % SCRATCH0)
        chip.run_for(1_700 * MS)
        assert [c for _ns, c in chip.stats()["resets"]] == ["power-on", "watchdog-force"]
        repl = RawRepl(chip)
        repl.enter()
        out = repl.exec("import machine, os\nd=open('/t.bin','rb').read()\n"
                        "print(machine.reset_cause(), hex(machine.mem32[%d]), len(d), d[0], d[-1])" % SCRATCH0)
        assert out.split() == ["3", "0x5a5a1234", "6144", "0", "5"]
        chip.power_cut()
        chip.run_for(1_700 * MS)
        repl = RawRepl(chip)
        repl.enter()
        out = repl.exec("import machine, os\n"
                        "print(machine.reset_cause(), hex(machine.mem32[%d]), 't.bin' in os.listdir('/'))" % SCRATCH0)
        assert out.split() == ["1", "0x0", "True"]
