"""Run tests/target/test_*.py on the MicroPython unix port (which has no pytest).

    micropython tests/target/run.py [-k SUBSTRING]

The same files also run under pytest on CPython. Each test_* function is
called in turn; an exception fails it, and _util.Skip (raised by
_util.skip_on_wasm_vm, on the webassembly VM only) skips it with its reason.
The last line is "target: N passed, M failed, K skipped", and the exit status
is 1 if anything failed.
"""

import os
import sys


def _dirname(p: str) -> str:
    i = p.rfind("/")
    return p[:i] if i > 0 else "."


HERE = _dirname(sys.argv[0] if sys.argv and sys.argv[0].endswith("run.py") else "tests/target/run.py")
REPO = _dirname(_dirname(HERE))
for p in (HERE, REPO + "/host_tools", REPO + "/firmware"):
    if p not in sys.path:
        sys.path.insert(0, p)

from _util import Skip  # noqa: E402 - importable only once HERE is on sys.path


def main(argv: list) -> int:  # type: ignore[type-arg]
    pattern = argv[argv.index("-k") + 1] if "-k" in argv else ""
    names = sorted(n[:-3] for n in os.listdir(HERE) if n.startswith("test_") and n.endswith(".py"))
    passed = 0
    failed = 0
    skipped = 0
    for modname in names:
        try:
            mod = __import__(modname)
        except Exception as e:  # noqa: BLE001 - a module that fails to import fails its tests
            failed += 1
            print("FAIL " + modname + " (import): " + type(e).__name__ + ": " + str(e))
            sys.print_exception(e)  # type: ignore[attr-defined]
            continue
        for name in sorted(dir(mod)):
            if not name.startswith("test_") or pattern not in modname + "." + name:
                continue
            fn = getattr(mod, name)
            try:
                fn()
            except Skip as e:
                skipped += 1
                print("skip " + modname + "." + name + ": " + str(e))
            except Exception as e:  # noqa: BLE001 - report and go on, like pytest
                failed += 1
                print("FAIL " + modname + "." + name + ": " + type(e).__name__ + ": " + str(e))
                sys.print_exception(e)  # type: ignore[attr-defined]
            else:
                passed += 1
                print("ok   " + modname + "." + name)
    print("target: " + str(passed) + " passed, " + str(failed) + " failed, " + str(skipped) + " skipped")
    return 1 if failed or not passed else 0


sys.exit(main(sys.argv))
