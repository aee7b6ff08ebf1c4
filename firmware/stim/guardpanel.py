"""The dose guard's panel side: START, profile selection, screening and the override, for the controller.

Imported with stim.guardshell at the first READY, not at boot (the first tick
must come before 1 s on silicon: docs/clients.md). Events only, never in a
running tick. Each function takes the controller and acts on its supervisor,
panel and guard shell (ctl.guard); alerts go through ctl.post_alert, so they
reach the status line, the buzzer and the OLED like any other.

Gestures (stim.panel; docs/clients.md has the texts):
- START at READY: the guard decides with the wall time read now; a refusal
  keeps the board in READY with the refusal in words; allowed, its caps are the
  supervisor's for the session, and the session record names the client.
- program held 1 s: profile selection; + / - step, start_pause picks; with the
  key in, the list ends with "new profile" (a pseudonym C001, C002, ...) and
  start_pause held 2 s confirms the shown person's screening (dated now).
- start_pause and minus held 2 s, key in: the override of the refusal shown.
"""

from stim import panel as _panel
from stim import supervisor as sv
from stim.guardshell import NEW

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Optional

ALERT_PROFILES_LOCKED = "profiles: not while running"
ALERT_PROFILE_KEY = "profiles: key needed"


def start(ctl: "Any") -> None:
    """START at READY: refused -> the intent is dropped (READY stays) and the alert says why."""
    g = ctl.guard
    why = g.start(ctl.sup, ctl.program, ctl._last_now)
    if why is not None:
        ctl.sup.in_intent = sv.NONE
        ctl.post_alert(why)
    elif ctl.recorder is not None:  # whose session it is: the log record and the history
        ctl.recorder.client = g.client
        ctl.recorder.clients = g.clients
    ctl.panel.note = g.note


def gesture(ctl: "Any", it: int) -> None:
    """A profile gesture of the panel (stim.panel PROFILES .. OVERRIDE)."""
    sup = ctl.sup
    pnl = ctl.panel
    g = ctl.guard
    st = sup.state
    if st != sv.SAFE and st != sv.READY:
        pnl.selecting = False
        ctl.post_alert(ALERT_PROFILES_LOCKED)
        return
    now = ctl._last_now
    if it == _panel.OVERRIDE:
        if st == sv.READY and sup.key:
            ctl.post_alert(g.arm_override(sup, ctl.program, now))
            pnl.note = g.note
        return
    if it == _panel.PROFILES:
        if pnl.selecting:
            g.open_choices(sup.key)
            g.choice_note(sup, ctl.program, now)
            pnl.note = g.note
        else:
            ctl._preview()
    elif it == _panel.PROFILE_NEXT or it == _panel.PROFILE_PREV:
        g.step_choice(1 if it == _panel.PROFILE_NEXT else -1)
        g.choice_note(sup, ctl.program, now)
        pnl.note = g.note
    elif it == _panel.PROFILE_PICK:
        pick(ctl, g.chosen())
    elif it == _panel.SCREENED:
        screened(ctl, g.chosen())


def pick(ctl: "Any", pid: "Optional[str]") -> None:
    """Select a profile (None: no profile): its limits and preferred program; a new one with the key."""
    g = ctl.guard
    sup = ctl.sup
    if pid == NEW:
        if not sup.key or g.clients is None:
            ctl.post_alert(ALERT_PROFILE_KEY)
            ctl._preview()
            return
        pid = g.new_id()
        g.clients.put({"id": pid, "limits_ua": list(sup.limit_ua),
                       "program": ctl.program.name if ctl.program is not None else None})
        ctl.post_alert("new profile " + pid)
    g.client = pid
    g.armed = None
    p = g.profile(pid)
    lims = p.limits_ua if p is not None else (
        ctl.recorder.store.settings.limits_ua if ctl.recorder is not None else sup.limit_ua)
    for c in range(ctl.n):  # the person's limits (no profile: the board's), never above the channel's
        m = sup.channel_max_ua[c]
        sup.limit_ua[c] = lims[c] if lims[c] < m else m
    if p is not None and p.program is not None:
        for i in range(len(ctl.programs)):
            if ctl.programs[i].name == p.program and i != ctl.program_index:
                ctl.select_program(i)
    ctl._preview()


def screened(ctl: "Any", pid: "Optional[str]") -> None:
    """The supervisor (key in) confirms the screening of the profile shown, dated now."""
    g = ctl.guard
    now = ctl._last_now
    if not ctl.sup.key:
        ctl.post_alert("screening: key needed")
    elif pid is None or pid == NEW or g.clients is None:
        ctl.post_alert("screening: choose a profile")
    else:
        wall = g.wall(now)
        if wall is None:
            ctl.post_alert("screening: clock not set")
        elif g.clients.confirm_screening(pid, wall):
            ctl.post_alert("screened: " + pid)
    g.choice_note(ctl.sup, ctl.program, now)
    ctl.panel.note = g.note
