"""Room in an object's attribute table, so that the lookups that miss it stay short (boot only).

MicroPython keeps an instance's attributes in a hash table with linear probing (py/map.c), and
grows the table only when an attribute is added to a full one, to the next of its sizes (_SIZES).
So an object leaves its __init__ with a table between about 80 % and 100 % full: the supervisor's
59 attributes filled its 59 slots exactly. Every method call on an object first looks the name up
in the object's own table, misses, and only then finds the method in its class; a miss probes
slot after slot until an empty one, so in a full table it visits every slot. On the emulated
RP2040 that made each method call on the supervisor cost several microseconds more than on a
sparse object, and adding three attributes to it slowed the whole tick by ~60 us (issue 12).

make_room(obj) adds placeholder attributes until the table has grown to at least twice the
object's attributes plus one, without filling the grown table, then deletes them again (last
first): the same attributes in a table less than half full. It costs 8 bytes a slot of heap
(about 0.5 KB for the supervisor). Deleted slots that are not followed by an empty one stay
marked as deleted, which a miss probes past, so the table is sparser than before but not as
sparse as a fresh one of that size.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

# py/map.c's table sizes (hash_allocation_sizes, MicroPython v1.28.0), up to what the firmware needs.
_SIZES = (0, 2, 4, 6, 8, 10, 12, 17, 23, 29, 37, 47, 59, 73, 97, 127, 167, 223, 293, 389)
_NAMES: "list[str]" = []  # the placeholders' names, made once and shared by every object


def placeholders(n: int) -> int:
    """How many placeholders make_room() adds to an object with n attributes: enough to reach the
    size before the first one of at least 2n + 1, plus one (the add that grows the table to it)."""
    i = 1
    while i < len(_SIZES) - 1 and _SIZES[i] < 2 * n + 1:
        i += 1
    k = _SIZES[i - 1] + 1 - n
    return k if k > 0 else 0


def make_room(obj: "Any") -> None:
    """Leave obj's attribute table less than half full (see the module's docstring)."""
    k = placeholders(len(obj.__dict__))
    while len(_NAMES) < k:
        _NAMES.append("_room%d" % len(_NAMES))
    i = 0
    while i < k:
        setattr(obj, _NAMES[i], None)
        i += 1
    while i:
        i -= 1
        delattr(obj, _NAMES[i])
