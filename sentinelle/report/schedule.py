"""When the summary goes out: the first working day of the month (French public holidays)."""

from __future__ import annotations

from datetime import date, timedelta


def easter(year: int) -> date:
    """Easter Sunday (Gregorian calendar; anonymous algorithm of Meeus/Jones/Butcher)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    m = (32 + 2 * e + 2 * i - h - k) % 7
    n = (a + 11 * h + 22 * m) // 451
    month, day = divmod(h + m - 7 * n + 114, 31)
    return date(year, month, day + 1)


def french_holidays(year: int) -> set[date]:
    """The eleven public holidays of metropolitan France (not the Alsace-Moselle extras)."""
    sunday = easter(year)
    return {
        date(year, 1, 1),
        sunday + timedelta(days=1),  # lundi de Pâques
        date(year, 5, 1),
        date(year, 5, 8),
        sunday + timedelta(days=39),  # Ascension
        sunday + timedelta(days=50),  # lundi de Pentecôte
        date(year, 7, 14),
        date(year, 8, 15),
        date(year, 11, 1),
        date(year, 11, 11),
        date(year, 12, 25),
    }


def first_working_day(year: int, month: int) -> date:
    """The first day of the month that is neither a weekend nor a public holiday."""
    holidays = french_holidays(year)
    day = date(year, month, 1)
    while day.weekday() >= 5 or day in holidays:
        day += timedelta(days=1)
    return day
