"""A two-channel scope on the model: biphasic pulse pairs measured from the pins' edge lists.

Give it the edges of a channel's positive-phase pin (A) and negative-phase pin
(B), as Chip.edges() returns them. A pair is a B pulse whose fall is the rise
of an A pulse (zero inter-phase gap). Everything here comes from the edges,
never from the settings that made them, so tests and the bench check the
hardware model's output rather than the firmware's arithmetic.

Runs unchanged on CPython and on the MicroPython unix port.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import List, Tuple

    Edges = List[Tuple[int, int]]
    Pulses = List[Tuple[int, int]]


def pulses(edges: "Edges") -> "Pulses":
    """Complete high pulses (rise, fall); a pulse cut by either end of the window is left out."""
    out: Pulses = []
    start = -1
    for t, v in edges:
        if v:
            start = t
        elif start >= 0:
            out.append((start, t))
            start = -1
    return out


def overlap_ns(pa: "Pulses", pb: "Pulses") -> int:
    """Total time both are high."""
    total = 0
    j = 0
    for r, f in pa:
        while j < len(pb) and pb[j][1] <= r:
            j += 1
        k = j
        while k < len(pb) and pb[k][0] < f:
            lo = r if r > pb[k][0] else pb[k][0]
            hi = f if f < pb[k][1] else pb[k][1]
            if hi > lo:
                total += hi - lo
            k += 1
    return total


class Pairs:
    """What the scope saw: whole pairs, unpaired phases, overlap."""

    def __init__(self, edges_a: "Edges", edges_b: "Edges") -> None:
        pa = pulses(edges_a)
        pb = pulses(edges_b)
        a_fall = {}
        for r, f in pa:
            a_fall[r] = f
        self.pairs: List[Tuple[int, int, int]] = []  # (B rise, B fall = A rise, A fall)
        used = 0
        self.unpaired = 0
        for r, f in pb:
            af = a_fall.get(f)
            if af is None:
                self.unpaired += 1  # a negative phase not followed at once by a positive one
            else:
                self.pairs.append((r, f, af))
                used += 1
        self.unpaired += len(pa) - used  # positive phases that follow no negative phase
        self.overlap_ns = overlap_ns(pa, pb)
        self.a_pulses = len(pa)
        self.b_pulses = len(pb)

    def widths(self) -> "List[Tuple[int, int]]":
        """(B width, A width) of each pair, ns."""
        return [(f - r, af - f) for r, f, af in self.pairs]

    def starts(self) -> "List[int]":
        """Start (B rise) of each pair."""
        return [p[0] for p in self.pairs]

    def periods(self) -> "List[int]":
        s = self.starts()
        return [s[i + 1] - s[i] for i in range(len(s) - 1)]
