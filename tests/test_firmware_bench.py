"""The firmware-size bench figures come from real compiles and a real MicroPython import."""

from picostim.bench import firmware
from picostim.devtools.tiers import firmware_files


def test_firmware_size_figures_are_measured() -> None:
    lines: list[str] = []
    r = firmware.measure(lines.append)
    source = sum(p.stat().st_size for p in firmware_files())
    # Compiled bytecode is smaller than the source it came from, and not empty.
    assert 0 < r["firmware.mpy_bytes"] < source
    # Importing every module takes heap: more than nothing, less than the unix VM's default heap.
    assert 10_000 < r["firmware.import_heap_unix_bytes"] < 2_000_000
    assert len(lines) == 2
