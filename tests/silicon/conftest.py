"""Fixtures for the silicon tier: the real MicroPython v1.28.0 rp2 firmware on an emulated RP2040.

These tests are slow (the emulator runs at about half of real time), so the pytest tier
skips this folder and the `silicon` tier (`make silicon`) runs it. Each module boots one
chip and shares it; a test that resets or breaks the chip makes its own.
"""

from collections.abc import Iterator

import pytest
from picostim.silicon.chip import Silicon
from picostim.silicon.repl import RawRepl, boot_to_repl


@pytest.fixture(scope="module")
def chip() -> Iterator[Silicon]:
    with Silicon() as c:
        yield c


@pytest.fixture(scope="module")
def repl(chip: Silicon) -> RawRepl:
    return boot_to_repl(chip)


def pytest_sessionstart(session: pytest.Session) -> None:
    """One clear line, not a traceback per test, when the tier cannot run here at all."""
    from picostim.silicon import images
    from picostim.silicon.chip import SiliconError, node_command

    try:
        node_command()
        images.find(images.BOOTROM)
        images.find(images.FIRMWARE)
    except (SiliconError, images.ImageMissing) as e:
        pytest.exit(str(e), returncode=3)
