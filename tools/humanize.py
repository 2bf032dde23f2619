"""Numbers for people: "12.3 µs", "1.2 MB", "45.6k ops/s", "+5.2%"."""

from __future__ import annotations

import math

from tools.schema import unit_without_mark

_TIME_STEPS = ((1e-9, "ns"), (1e-6, "µs"), (1e-3, "ms"), (1.0, "s"))
_FORMATTED = frozenset({"seconds", "bytes", "instructions", "relative"})  # units with their own format
# the symbol printed after an SI-scaled value; "relative" is cost in reference-kernel units
# (benchmarks/framework/relative.py)
_SI_SYMBOLS = {"instructions": "instr", "relative": "× ref"}
_SI = ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"))


def _missing(value) -> bool:
    try:
        return value is None or math.isnan(float(value))
    except (TypeError, ValueError):
        return True


def _sig(x: float, digits: int = 3) -> str:
    """3 significant digits without exponent: 12.3, 1.23, 123, 1234."""
    if x == 0:
        return "0"
    mag = math.floor(math.log10(abs(x)))
    decimals = max(digits - 1 - mag, 0)
    text = f"{x:.{decimals}f}"
    if decimals and abs(float(text)) >= 10 ** (mag + 1):  # 0.9999 rounds up to 1.000: one digit fewer
        text = f"{x:.{decimals - 1}f}"
    return text


def human_time(seconds: float, digits: int = 3) -> str:
    if _missing(seconds):
        return "—"
    s = float(seconds)
    if s == 0:
        return "0 s"
    if abs(s) >= 60:
        return f"{_sig(s, digits)} s"
    unit_scale, unit = _TIME_STEPS[0]
    for scale, name in _TIME_STEPS:
        if abs(s) >= scale * 0.9995:
            unit_scale, unit = scale, name
    return f"{_sig(s / unit_scale, digits)} {unit}"


def human_si(value: float, suffix: str = "", digits: int = 3) -> str:
    """1234567 -> "1.23M"; with a suffix: "1.23M ops/s"."""
    if _missing(value):
        return "—"
    v = float(value)
    for scale, prefix in _SI:
        if abs(v) >= scale * 0.9995:
            text = f"{_sig(v / scale, digits)}{prefix}"
            break
    else:
        text = _sig(v, digits)
    return f"{text} {suffix}".strip()


def human_bytes(n: float, digits: int = 3) -> str:
    if _missing(n):
        return "—"
    v = float(n)
    for scale, name in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
        if abs(v) >= scale * 0.9995:
            return f"{_sig(v / scale, digits)} {name}"
    return f"{int(round(v))} B"


def human_value(value: float, unit: str, digits: int = 3) -> str:
    """Format ``value`` in asv ``unit`` (seconds, bytes, instructions, ops/s, anything); a declared
    direction (``"bytes ↑"``, ``tools.schema.declared_direction``) follows the number."""
    unit = (unit or "").strip()
    base = unit_without_mark(unit)
    if base != unit and base in _FORMATTED:
        return f"{human_value(value, base, digits)} {unit[-1]}"
    if unit == "seconds":
        return human_time(value, digits)
    if unit == "bytes":
        return human_bytes(value, digits)
    if unit in _SI_SYMBOLS:
        return human_si(value, _SI_SYMBOLS[unit], digits)
    if unit in ("", "unit"):
        return human_si(value, "", digits)
    return human_si(value, unit, digits)


def unit_name(unit: str) -> str:
    """What ``human_value`` prints for ``unit`` after the number: an axis label for ticks that
    carry the number alone."""
    unit = (unit or "").strip()
    return _SI_SYMBOLS.get(unit, unit)


def digits_for_range(low: float, high: float) -> int:
    """Significant digits that keep tick labels over [low, high] distinct (3 to 7)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low or high <= 0:
        return 3
    return int(min(7, max(3, 2 + math.ceil(math.log10(abs(high) / (high - low))))))


def human_pct(pct: float, signed: bool = True, *, ascii: bool = False) -> str:
    """ "+5.2%" with a typographic minus ("−5.2%"); ``ascii`` keeps "-" (rule texts, logs).
    Infinite bounds ("no interval") read "∞" / "-∞"; missing values "—"."""
    if _missing(pct):
        return "—"
    p = float(pct)
    if math.isinf(p):
        text = "∞" if p > 0 else "-∞"
    else:
        text = f"{p:+.1f}%" if signed else f"{p:.1f}%"
    return text if ascii else text.replace("-", "−")


def human_interval(low: float, high: float) -> str:
    """A change interval in %: "[+3.1%, +7.9%]"."""
    if _missing(low) or _missing(high) or math.isinf(float(low)) or math.isinf(float(high)):
        return "—"
    return f"[{human_pct(low)}, {human_pct(high)}]"
