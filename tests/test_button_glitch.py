"""The hal's button sample is two reads of the pads in a row: a level seen by one read only is no press."""

from picostim.consolerig import Rig
from stim.board import BUTTONS


def _pads(rig: Rig, pressed: "tuple[str, ...]") -> int:
    """GPIO_IN with these buttons pressed and every other one at its idle level."""
    v = 0
    for name in BUTTONS:
        spec = rig.board.inputs.buttons[name]
        level = spec.active_level if name in pressed else 1 - spec.active_level
        v |= level << spec.pin
    return v


_SIO_GPIO_IN = 0xD0000004


def _scripted(rig: Rig, reads: "list[int]") -> None:
    """SIO GPIO_IN reads these values, one per read, instead of the model's pads."""
    model_read = rig.chip.mem_read
    rig.chip.mem_read = lambda addr: reads.pop(0) if addr == _SIO_GPIO_IN else model_read(addr)  # type: ignore[method-assign]


def test_a_spike_seen_by_one_read_is_not_a_press() -> None:
    rig = Rig()
    _scripted(rig, [_pads(rig, ("plus",)), _pads(rig, ())])  # pressed on the first read, released on the second
    assert rig.ctl.hw.buttons_mask() == 0


def test_a_press_seen_by_both_reads_is_a_press() -> None:
    rig = Rig()
    _scripted(rig, [_pads(rig, ("plus",)), _pads(rig, ("plus",))])
    assert rig.ctl.hw.buttons_mask() == 1 << BUTTONS.index("plus")


def test_the_pads_say_which_buttons_are_pressed_whatever_their_active_level() -> None:
    rig = Rig()
    for combo in ((), ("start_pause",), ("minus", "program"), tuple(BUTTONS)):
        _scripted(rig, [_pads(rig, combo), _pads(rig, combo)])
        want = sum(1 << BUTTONS.index(n) for n in combo)
        assert rig.ctl.hw.buttons_mask() == want, combo
