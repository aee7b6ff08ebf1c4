"""Helpers for tests that run under both pytest (CPython) and the MicroPython VM.

tests/target/ cannot import pytest: tests/target/run.py runs these same files on
the MicroPython unix port, which has no pytest. Plain `assert` is fine in
tests (they are never compiled with mpy-cross -O).
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Type, TypeVar

    E = TypeVar("E", bound=BaseException)


def expect_raises(exc_type: "Type[E]", fn: "Callable[..., Any]", *args: "Any", **kwargs: "Any") -> "E":
    """Call fn and return the exception of exc_type it raised; fail if none."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("expected " + exc_type.__name__ + " from " + repr(fn))


def approx(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol


def heap_locked(fn: "Callable[[], Any]") -> bool:
    """Call fn() inside micropython.heap_lock(); an allocation raises MemoryError out of it.

    Returns True if the lock was proven on around the call (MicroPython), False on CPython, where
    the shim cannot enforce it. fn takes no arguments: a call with *args allocates on MicroPython.
    """
    import micropython  # the real one, or fakehw's shim on CPython

    locked = False
    micropython.heap_lock()
    try:
        fn()
        try:
            bytearray(16)
        except MemoryError:
            locked = True
    finally:
        micropython.heap_unlock()
    return locked


class Skip(Exception):
    """Raised by skip_on_wasm_vm(); tests/target/run.py counts the test as skipped, with the reason."""


def skip_on_wasm_vm(reason: str) -> None:
    """Skip the calling test on the webassembly MicroPython VM (tier mvm32), and only there.

    Only for a difference of that port which the RP2040 does not share; the reason says which.
    Everywhere else (CPython, the unix VM) this does nothing and the test runs.
    """
    import sys

    if sys.platform == "webassembly":
        raise Skip(reason)
