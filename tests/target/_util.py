"""Helpers for tests that run under both pytest (CPython) and the MicroPython VM.

tests/target/ cannot import pytest: tests/target/run.py runs these same files on
the MicroPython unix port, which has no pytest. Plain `assert` is fine in
tests (they are never compiled with mpy-cross -O).
"""


def expect_raises(exc_type, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Call fn and return the exception of exc_type it raised; fail if none."""
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError("expected " + exc_type.__name__ + " from " + repr(fn))


def approx(a, b, tol):  # type: ignore[no-untyped-def]
    return abs(a - b) <= tol
