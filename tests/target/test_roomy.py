"""stim.roomy.make_room: the same attributes, in a table with room (issue 12).

On MicroPython the room shows as memory: a table with room takes new attributes without growing,
and growing allocates a bigger table. So the test adds as many attributes again as the object had
and watches gc.mem_alloc(): nothing for an object made roomy, more for one as __init__ left it.
Under CPython (no such table) only the attributes are checked.
"""

import gc
import sys

from stim import roomy

_MP = sys.implementation.name == "micropython"


class _Thing:
    def __init__(self, n: int) -> None:
        for i in range(n):
            setattr(self, "a%d" % i, i * 7)


_MORE = ["more%d" % i for i in range(80)]
_scratch = _Thing(0)
for _nm in _MORE + ["_room%d" % i for i in range(120)]:  # interned now: the adds below allocate no names
    setattr(_scratch, _nm, 0)


def _growth(obj: _Thing, k: int) -> int:
    """Bytes allocated by adding k attributes (None values, names already interned)."""
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()  # type: ignore[attr-defined]
        for i in range(k):
            setattr(obj, _MORE[i], None)
        return gc.mem_alloc() - before  # type: ignore[attr-defined,no-any-return]
    finally:
        gc.enable()


def test_make_room_keeps_every_attribute_and_its_value() -> None:
    for n in (0, 1, 3, 12, 17, 23, 46, 59):
        t = _Thing(n)
        want = dict(t.__dict__)
        roomy.make_room(t)
        assert dict(t.__dict__) == want, n


def test_placeholders_reach_the_size_before_twice_the_attributes() -> None:
    """From n attributes, n + placeholders(n) entries grow the table to the first size of at least
    2n + 1 and leave it not full (the add past the size before it grows it)."""
    for n in range(1, 120):
        k = roomy.placeholders(n)
        total = n + k
        grown = next(s for s in roomy._SIZES if s >= total)
        assert grown >= 2 * n + 1, (n, k, grown)
        assert total < grown, (n, k, grown)


def test_a_roomy_object_takes_as_many_attributes_again_without_growing() -> None:
    if not _MP:
        return  # CPython's instance dicts are another story
    for n in (12, 17, 23, 46, 59):
        as_made = _Thing(n)
        roomy_one = _Thing(n)
        roomy.make_room(roomy_one)
        assert _growth(roomy_one, n) == 0, n
        assert _growth(as_made, n) > 0, n  # the check can fail: a table as __init__ left it grows
