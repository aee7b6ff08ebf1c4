"""The silicon tier: the unmodified MicroPython v1.28.0 rp2 firmware on an emulated RP2040.

node/      the Node side: rp2040js (pinned in node/package.json) plus patches/ for the
           silicon behaviour rp2040js lacks, and harness.mjs, which runs one chip in
           lock-step for Python
images.py  the firmware image and bootrom, verified by sha256
chip.py    Silicon: start the harness, run the chip, drive its pins and USB serial
repl.py    MicroPython's raw REPL over that serial: run code, write files
deploy.py  put PicoStim on the emulated chip as `picostim deploy` puts it on a board
"""
