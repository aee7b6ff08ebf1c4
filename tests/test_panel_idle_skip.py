"""The panel skips an idle button's work and acts exactly as if it had not.

Panel.step calls _button only for a button that is pressed now, was pressed at its last sample, is
debounced down, or is ignored (stuck at boot): for any other button _button changes nothing, and
its call cost ~70 us a tick on silicon for each of the four buttons not held while one is (issue 12).

The invariant, in words: for any sequence of samples (times, pressed buttons, key level), a panel
that skips idle buttons emits the same intent and channel at every step, and ends every step in
the same state, as one that steps every button every time.
"""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from stim import panel as pn
from stim.ticks import PERIOD


class _EveryButton(pn.Panel):
    """The reference: step() as it was, every button's _button at every sample."""

    def step(self, now_ms: int, pressed: int, key: bool) -> None:
        self.intent = pn.NONE
        self.intent_channel = self.channel
        if self._first:
            self._first = False
            self._boot(now_ms, pressed)
            return
        if not key:
            self.supervisor_mode = False
        if pressed == 0 and self._pressed == 0 and not self._active:
            return
        self._now = now_ms
        self._key = key
        self._pressed = pressed
        for i in range(pn.N_BUTTONS):
            self._button(i)
        self._active = True in self._down or True in self._ignore


def _state(p: Any) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, list) else v) for k, v in vars(p).items()}


# Samples: the time step (ms; ticks of 10 ms, sometimes a late one), a mask of pressed buttons
# (mostly none or one, held for a while), the key.
_sample = st.tuples(st.sampled_from([10, 10, 10, 20, 1]), st.integers(0, (1 << pn.N_BUTTONS) - 1), st.booleans())
_runs = st.lists(st.tuples(_sample, st.integers(1, 120)), min_size=1, max_size=25)


@settings(max_examples=300, deadline=None)
@given(runs=_runs, t0=st.integers(0, PERIOD - 1))
def test_skipping_idle_buttons_changes_nothing_the_panel_does(runs: list[Any], t0: int) -> None:
    fast, ref = pn.Panel(4), _EveryButton(4)
    now = t0
    for (dt, pressed, key), repeat in runs:
        for _ in range(repeat):
            now = (now + dt) % PERIOD
            fast.step(now, pressed, key)
            ref.step(now, pressed, key)
            assert (fast.intent, fast.intent_channel) == (ref.intent, ref.intent_channel)
            assert _state(fast) == _state(ref)


def test_the_reference_is_the_slow_path() -> None:
    """The two differ only in the calls: the reference steps a button the fast panel skips."""
    assert _stepped(pn.Panel) == {pn.B_PLUS}
    assert _stepped(_EveryButton) == set(range(pn.N_BUTTONS))


def _stepped(cls: type) -> set[int]:
    """The buttons whose _button a panel of class cls runs over 30 ticks with + held."""
    seen: set[int] = set()

    class Spy(cls):  # type: ignore[valid-type, misc]
        def _button(self, i: int) -> None:
            seen.add(i)
            super()._button(i)

    p = Spy(4)
    p.step(0, 0, True)
    for k in range(1, 30):
        p.step(10 * k, 1 << pn.B_PLUS, True)
    return seen
