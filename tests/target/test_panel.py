"""Front-panel gestures from raw button levels (pure; both interpreters)."""

import sys

from stim import panel as pn

START = 1 << pn.B_START
PLUS = 1 << pn.B_PLUS
MINUS = 1 << pn.B_MINUS
CHAN = 1 << pn.B_CHANNEL
PROG = 1 << pn.B_PROGRAM


class Buttons:
    def __init__(self, n: int = 4) -> None:
        self.p = pn.Panel(n)
        self.t = 0
        self.intents: "list[tuple[int, int, int]]" = []  # (t, intent, channel)
        self.tick(0)  # the boot tick

    def tick(self, mask: int, key: bool = True) -> None:
        self.p.step(self.t, mask, key)
        if self.p.intent != pn.NONE:
            self.intents.append((self.t, self.p.intent, self.p.intent_channel))
        self.t += 10

    def hold(self, mask: int, ms: int, key: bool = True) -> None:
        for _ in range(ms // 10):
            self.tick(mask, key)

    def kinds(self) -> "list[int]":
        return [i[1] for i in self.intents]


def test_a_press_is_one_step_and_bounces_are_ignored() -> None:
    b = Buttons()
    for _ in range(3):  # contact bounce: 10 ms on, 10 ms off
        b.tick(START)
        b.tick(0)
    assert b.intents == []  # start/pause needs a press stable for DEBOUNCE_MS
    b.hold(0, 100)
    t_first = b.t
    for _ in range(3):
        b.tick(PLUS)
        b.tick(0)
    assert b.kinds() == [pn.PLUS]  # + acts on the first contact (one tick), the bounce after it is ignored
    assert b.intents[0][0] == t_first  # the first sample that read it pressed
    b.hold(PLUS, 100)
    b.hold(0, 100)
    assert b.kinds() == [pn.PLUS]


def test_holding_repeats_no_faster_than_two_steps_per_second() -> None:
    b = Buttons()
    b.hold(PLUS, 5000)
    times = [t for t, k, _c in b.intents if k == pn.PLUS]
    assert len(times) >= 9  # it does repeat
    gaps = [b2 - a for a, b2 in zip(times, times[1:])]
    assert min(gaps) >= 500


def test_start_pause_and_minus_and_program() -> None:
    b = Buttons()
    b.hold(START, 60)
    b.hold(0, 60)
    b.hold(MINUS, 60)
    b.hold(0, 60)
    b.hold(PROG, 60)
    b.hold(0, 60)
    assert b.kinds() == [pn.START_PAUSE, pn.MINUS, pn.PROGRAM]


def test_channel_select_cycles_one_then_all() -> None:
    b = Buttons(n=2)
    seen = []
    for _ in range(4):
        b.hold(CHAN, 60)
        b.hold(0, 60)
        seen.append(b.p.channel)
    assert seen == [0, 1, pn.ALL, 0]
    b.hold(PLUS, 60)
    assert b.intents[-1] == (b.intents[-1][0], pn.PLUS, 0)  # + acts on the selected channel


def _select_cycle(b: Buttons, presses: int) -> "list[int]":
    seen = []
    for _ in range(presses):
        b.hold(CHAN, 60)
        b.hold(0, 60)
        seen.append(b.p.channel)
    return seen


def test_channel_select_skips_channels_the_program_does_not_use() -> None:
    b = Buttons(n=4)
    b.p.set_usable(1, False)
    b.p.set_usable(3, False)
    assert _select_cycle(b, 4) == [0, 2, pn.ALL, 0]
    b.p.set_usable(0, False)  # a program without the selected channel: back to "all"
    assert b.p.channel == pn.ALL
    assert _select_cycle(b, 2) == [2, pn.ALL]


def test_in_supervisor_mode_channel_select_reaches_every_channel() -> None:
    b = Buttons(n=3)
    b.p.set_usable(1, False)
    b.hold(CHAN, pn.SUPERVISOR_HOLD_MS + 100)
    b.hold(0, 60)
    assert b.p.supervisor_mode and b.kinds()[-1] == pn.SUPERVISOR_ON
    assert _select_cycle(b, 4) == [0, 1, 2, pn.ALL]
    b.hold(CHAN, pn.SUPERVISOR_HOLD_MS + 100)  # leave supervisor mode: unused channels are skipped again
    b.hold(0, 60)
    assert not b.p.supervisor_mode
    assert _select_cycle(b, 3) == [0, 2, pn.ALL]


def test_stuck_button_at_boot_is_reported_and_never_acts() -> None:
    p = pn.Panel(2)
    p.step(0, PLUS, True)
    assert p.stuck == "plus"
    acted = []
    for t in range(10, 3000, 10):
        p.step(t, PLUS, True)
        if p.intent != pn.NONE:
            acted.append(p.intent)
    assert acted == []


def test_supervisor_mode_needs_key_and_long_hold() -> None:
    b = Buttons()
    b.hold(CHAN, 2500, key=False)
    b.hold(0, 50, key=False)
    assert not b.p.supervisor_mode
    b.hold(CHAN, 2100)
    assert b.p.supervisor_mode and pn.SUPERVISOR_ON in b.kinds()
    b.hold(0, 50)
    b.hold(PLUS, 60)
    assert b.kinds()[-1] == pn.LIMIT_UP
    b.hold(0, 50, key=False)  # key out leaves supervisor mode
    assert not b.p.supervisor_mode


def test_panel_step_allocates_nothing() -> None:
    if sys.implementation.name != "micropython":
        return
    import micropython  # type: ignore[import-not-found]

    p = pn.Panel(4)
    p.step(0, 0, True)
    micropython.heap_lock()
    try:
        for t in range(10, 3000, 10):
            p.step(t, PLUS if (t // 700) % 2 else 0, True)
    finally:
        micropython.heap_unlock()


# -- profile selection, screening and the override (docs/clients.md) -----------------------------
def test_program_steps_on_a_short_release_and_a_hold_enters_and_leaves_profile_selection() -> None:
    b = Buttons()
    b.hold(PROG, 100)
    assert b.kinds() == []  # nothing yet: program acts on release (a hold is the selection gesture)
    b.hold(0, 100)
    assert b.kinds() == [pn.PROGRAM]
    b.hold(PROG, 1100, key=False)  # no key needed: the trainer selects
    assert b.kinds() == [pn.PROGRAM, pn.PROFILES] and b.p.selecting
    b.hold(0, 100)
    assert b.kinds() == [pn.PROGRAM, pn.PROFILES]  # the hold's release steps no program
    b.hold(PLUS, 50)
    b.hold(0, 100)
    b.hold(MINUS, 50)
    b.hold(0, 100)
    b.hold(START, 100)
    assert b.kinds()[2:] == [pn.PROFILE_NEXT, pn.PROFILE_PREV]  # start_pause starts nothing while selecting
    b.hold(0, 100)
    assert b.kinds()[2:] == [pn.PROFILE_NEXT, pn.PROFILE_PREV, pn.PROFILE_PICK] and not b.p.selecting
    b.hold(PROG, 1100)
    b.hold(0, 100)
    b.hold(PROG, 100)
    b.hold(0, 100)  # a short program press leaves the selection
    assert b.kinds()[-2:] == [pn.PROFILES, pn.PROFILES] and not b.p.selecting


def test_screening_needs_the_key_and_a_two_second_hold_in_selection() -> None:
    b = Buttons()
    b.hold(PROG, 1100)
    b.hold(0, 100)
    b.hold(START, 2500, key=False)
    assert pn.SCREENED not in b.kinds()
    b.hold(0, 100, key=False)
    assert b.kinds()[-1] == pn.PROFILE_PICK  # without the key it was only a pick
    b.hold(PROG, 1100)
    b.hold(0, 100)
    b.hold(START, 1900)
    assert pn.SCREENED not in b.kinds()
    b.hold(START, 200)
    b.hold(0, 100)
    assert b.kinds()[-1] == pn.SCREENED and b.p.selecting  # and its release picks nothing


def test_the_override_needs_the_key_and_start_and_minus_held_together_for_two_seconds() -> None:
    b = Buttons()
    b.hold(START | MINUS, 2500, key=False)
    b.hold(0, 100, key=False)
    assert pn.OVERRIDE not in b.kinds()
    b.hold(START, 2500)  # one hand: no override
    b.hold(0, 100)
    assert pn.OVERRIDE not in b.kinds()
    n = len(b.intents)
    b.hold(START | MINUS, 2100)
    b.hold(0, 100)
    got = b.kinds()[n:]
    assert got[:2] == [pn.MINUS, pn.START_PAUSE] and got[-1] == pn.OVERRIDE  # the press tries a start first
    assert set(got[2:-1]) == {pn.MINUS}  # - repeats while held (at READY it moves nothing)
