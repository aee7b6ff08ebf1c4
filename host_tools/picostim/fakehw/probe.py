"""A two-channel scope on the model: biphasic pulse pairs measured from the pins' edge lists.

Give it the edges of a channel's positive-phase pin (A) and negative-phase pin
(B), as Chip.edges() returns them, and which phase leads. A pair is a pulse on
the lead pin followed by one on the other pin that rises at or after the
lead's fall (the gap between the phases). Everything here comes from the edges,
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
    """What the scope saw: whole pairs, unpaired phases, overlap.

    A pair is a phase on the lead pin followed by the next phase, on the other pin, which rises
    at or after the lead's fall (the gap between them may be 0). lead: "negative" (B, the odd
    GPIO, first) or "positive" (A first). Phases in no pair are counted in `unpaired`."""

    def __init__(self, edges_a: "Edges", edges_b: "Edges", lead: str = "negative") -> None:
        pa = pulses(edges_a)
        pb = pulses(edges_b)
        lead_a = lead == "positive"
        tagged = sorted([(r, f, 1) for r, f in pa] + [(r, f, 0) for r, f in pb])  # 1: on A
        self.pairs: List[Tuple[int, int, int, int]] = []  # (lead rise, lead fall, trail rise, trail fall)
        self.unpaired = 0
        i = 0
        while i < len(tagged):
            r, f, on_a = tagged[i]
            if bool(on_a) == lead_a and i + 1 < len(tagged):
                r2, f2, on_a2 = tagged[i + 1]
                if on_a2 != on_a and r2 >= f:
                    self.pairs.append((r, f, r2, f2))
                    i += 2
                    continue
            self.unpaired += 1  # a trail phase with no lead before it, or a lead with no trail after it
            i += 1
        self.overlap_ns = overlap_ns(pa, pb)
        self.a_pulses = len(pa)
        self.b_pulses = len(pb)

    def widths(self) -> "List[Tuple[int, int]]":
        """(lead width, trail width) of each pair, ns."""
        return [(f - r, f2 - r2) for r, f, r2, f2 in self.pairs]

    def gaps(self) -> "List[int]":
        """The gap between the phases of each pair (lead fall to trail rise), ns."""
        return [r2 - f for _r, f, r2, _f2 in self.pairs]

    def starts(self) -> "List[int]":
        """Start (lead rise) of each pair."""
        return [p[0] for p in self.pairs]

    def periods(self) -> "List[int]":
        s = self.starts()
        return [s[i + 1] - s[i] for i in range(len(s) - 1)]
