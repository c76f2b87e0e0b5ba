"""humanize_number(3) as pjdlog's `%N` uses it (hastctl list: `2097152 (2.0MB)`)."""

from __future__ import annotations

_PREFIXES = ("", "K", "M", "G", "T", "P", "E")
_DIVISOR = 1024
_DIVISOR_DECIMAL_CUT = 973  # ceil(.95 * 1024), lib/libutil/humanize_number.c


def humanize_number(number: int, length: int = 5) -> str:
    """`humanize_number(buf, length, number, "", HN_AUTOSCALE, HN_NOSPACE | HN_DECIMAL)`.

    This is what pjdlog's `%N` prints (hastd/hastctl, buffer of 5 bytes); hastctl adds a
    literal `B` after it, so 2097152 gives `2.0M`, 0 gives `0`, 134217728 gives `128M`.
    Port of lib/libutil/humanize_number.c (1024 divisor, no IEC prefixes).
    """
    sign = -1 if number < 0 else 1
    quotient = abs(number)
    base_length = 1 + (2 if sign < 0 else 1)  # prefix letter + (sign +) one digit
    if length < base_length + 1:
        raise ValueError(f"buffer of {length} bytes cannot hold any number")
    limit = 10 ** (length - base_length)
    remainder = 0
    scale = 0
    while scale < len(_PREFIXES) - 1 and (
        quotient >= limit
        or (
            quotient == limit - 1
            and (remainder >= _DIVISOR_DECIMAL_CUT or remainder >= _DIVISOR // 2)
        )
    ):
        remainder = quotient % _DIVISOR
        quotient //= _DIVISOR
        scale += 1
    prefix = _PREFIXES[scale]
    if scale > 0 and (quotient < 9 or (quotient == 9 and remainder < _DIVISOR_DECIMAL_CUT)):
        rounded_tenths = (remainder * 10 + _DIVISOR // 2) // _DIVISOR
        whole = quotient + rounded_tenths // 10
        tenths = rounded_tenths % 10
        text = f"{sign * whole}.{tenths}{prefix}"
    else:
        text = f"{sign * (quotient + (remainder + _DIVISOR // 2) // _DIVISOR)}{prefix}"
    return text[: length - 1]


def humanize_bytes(number: int) -> str:
    """pjdlog `%NB`: the humanized number followed by `B` (`2.0MB`, `0B`, `128MB`)."""
    return f"{humanize_number(number)}B"
