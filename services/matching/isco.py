"""The ISCO-08 hierarchy, derived from the code itself.

ISCO-08 is purely positional: unit group 2142 belongs to minor group 214, sub-major group 21
and major group 2. So no data file is needed to tell how closely two occupations are related:
count the levels their codes share.
"""

from __future__ import annotations

import re

LEVELS = ("major", "sub_major", "minor", "unit")
"""The four levels of ISCO-08, from the broadest; a code of n digits is at level LEVELS[n-1]."""

_CODE = re.compile(r"^\d{1,4}$")


def validate(code: str) -> str:
    """Return the code if it is an ISCO-08 code of 1-4 digits, else raise ValueError."""
    if not _CODE.match(code):
        raise ValueError(f"not an ISCO-08 code (1-4 digits): {code!r}")
    return code


def level(code: str) -> str:
    """The level of a code: 'unit' for 2142, 'major' for 2."""
    return LEVELS[len(validate(code)) - 1]


def parents(code: str) -> tuple[str, ...]:
    """The code and its parents from the broadest: 2142 -> ('2', '21', '214', '2142')."""
    validate(code)
    return tuple(code[:n] for n in range(1, len(code) + 1))


def major(code: str) -> str:
    """The major group (first digit): 2142 -> '2'."""
    return validate(code)[0]


def shared_levels(a: str, b: str) -> int:
    """How many levels two codes share, 0-4: 4 is the same unit group, 1 the same major group.

    A shorter code shares at most its own levels: '21' and '2142' share 2 (the sub-major group).
    """
    validate(a)
    validate(b)
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def common_group(a: str, b: str) -> str | None:
    """The narrowest group two codes share ('214' for 2142 and 2146), None if none."""
    n = shared_levels(a, b)
    return a[:n] if n else None
