"""A loop pass, as the silicon and the model benches both count it."""

from typing import Any

TICK_NS = 10_000_000  # the control tick's period (stim.controller.TICK_MS)


def window_worst(stretches: "list[Any]", t0: int, period_ns: int = TICK_NS) -> list[int]:
    """The longest busy stretch (start, ns) of each period from t0 that has one, sorted: a loop pass.

    A tick period holds two stretches, the tick's and, half a period on, the console's and the
    display's (stim.app.run); the longer one stands for its period."""
    worst: dict[int, int] = {}
    for st, ns in stretches:
        w = (st - t0) // period_ns
        worst[w] = max(worst.get(w, 0), ns)
    return sorted(worst.values())


def window_busy(stretches: "list[Any]", t0: int, period_ns: int = TICK_NS) -> list[int]:
    """The busy time (ns) of each period from t0 that has any, sorted: a whole loop iteration, its
    tick's stretch and its console's and display's together."""
    busy: dict[int, int] = {}
    for st, ns in stretches:
        w = (st - t0) // period_ns
        busy[w] = busy.get(w, 0) + ns
    return sorted(busy.values())
