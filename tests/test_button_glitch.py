"""The hal's button sample is two read passes in a row: a level seen by one pass only is no press."""

from picostim.consolerig import Rig


class _Flaky:
    """A button input that reads pressed on the first `n` reads only (a spike)."""

    def __init__(self, n: int) -> None:
        self.left = n

    def active(self) -> bool:
        self.left -= 1
        return self.left >= 0


class _Held:
    def active(self) -> bool:
        return True


def test_a_spike_seen_by_one_read_pass_is_not_a_press() -> None:
    hw = Rig().ctl.hw
    buttons = list(hw.buttons)
    buttons[1] = _Flaky(1)  # plus: pressed on the first pass, released on the second
    hw.buttons = tuple(buttons)
    assert hw.buttons_mask() == 0


def test_a_press_seen_by_both_passes_is_a_press() -> None:
    hw = Rig().ctl.hw
    buttons = list(hw.buttons)
    buttons[1] = _Held()
    hw.buttons = tuple(buttons)
    assert hw.buttons_mask() == 1 << 1
