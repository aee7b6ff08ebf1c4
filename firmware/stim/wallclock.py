"""Calendar arithmetic for the wall clock: epoch seconds <-> (year, month, day, hour, minute, second).

UTC only, years 2000..2099 (what a DS3231 keeps). Integer arithmetic (H. Hinnant's
days-from-civil), the same on MicroPython and CPython, whose time.mktime epochs
differ between ports. Pure.
"""

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Tuple

EPOCH_2000 = 946684800  # 2000-01-01T00:00:00Z
EPOCH_2100 = 4102444800  # 2100-01-01T00:00:00Z


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of the date y-m-d (proleptic Gregorian, y >= 1)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m - 3 if m > 2 else m + 9) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z: int) -> "Tuple[int, int, int]":
    """(year, month, day) of z days since 1970-01-01 (z >= -719468)."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    y = yoe + era * 400
    return (y + 1 if m <= 2 else y), m, d


def fields(epoch_s: int) -> "Tuple[int, int, int, int, int, int, int]":
    """(year, month, day, hour, minute, second, weekday 1..7 with 1 = Monday) of epoch_s."""
    days = epoch_s // 86400
    s = epoch_s - days * 86400
    y, m, d = civil_from_days(days)
    return y, m, d, s // 3600, s // 60 % 60, s % 60, (days + 3) % 7 + 1


def epoch(y: int, m: int, d: int, hh: int, mm: int, ss: int) -> int:
    return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss


def days_in_month(y: int, m: int) -> int:
    if m == 2:
        return 29 if (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)) else 28
    return 30 if m in (4, 6, 9, 11) else 31
