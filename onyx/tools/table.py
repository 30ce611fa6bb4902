"""Terminal output shared by the ``onyx`` commands: aligned tables, colour only on a terminal
(and never when ``NO_COLOR`` is set), JSON for machines, and progress bars.

    >>> print(format_table(["op", "count"], [["Conv", 2], ["Relu", 10]]))
    op    count
    ----  -----
    Conv      2
    Relu     10
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TextIO

_COLOURS = {"red": 31, "green": 32, "yellow": 33, "blue": 34, "bold": 1, "dim": 2}


def use_colour(stream: TextIO | None = None) -> bool:
    """Colour only for a terminal, and never when ``NO_COLOR`` is set (https://no-color.org)."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, colour: str, stream: TextIO | None = None) -> str:
    """``text`` wrapped in the ANSI code of ``colour`` when ``stream`` shows colour."""
    if not use_colour(stream):
        return text
    return f"\033[{_COLOURS[colour]}m{text}\033[0m"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"  # latencies of 0.01 ms and of 100 ms both keep 4 digits
    return "" if value is None else str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *,
                 colours: dict[int, str | Callable[[str], str | None]] | None = None,
                 stream: TextIO | None = None) -> str:
    """Rows as aligned text columns: numbers right-aligned, everything else left-aligned.

    ``colours`` maps a column index to a colour name, or to a function of the cell's text that
    returns one (or ``None``). Colour is applied after alignment, so escape codes never shift a
    column.
    """
    rows = [list(r) for r in rows]
    cells = [[_cell(v) for v in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))
    numeric = [bool(rows) and all(_is_number(r[i]) or r[i] is None for r in rows)
               for i in range(len(headers))]
    lines = ["  ".join(h.rjust(w) if num else h.ljust(w)
                       for h, w, num in zip(headers, widths, numeric)).rstrip(),
             "  ".join("-" * w for w in widths)]
    for r in cells:
        parts = []
        for i, (c, w) in enumerate(zip(r, widths)):
            text = c.rjust(w) if numeric[i] else c.ljust(w)
            colour = colours.get(i) if colours and c else None
            if callable(colour):
                colour = colour(c)
            if colour:
                text = paint(text, colour, stream)
            parts.append(text)
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def print_json(data: Any, stream: TextIO | None = None) -> None:
    """``data`` as indented JSON (NumPy scalars become plain numbers)."""
    print(json.dumps(data, indent=2, default=_jsonable), file=stream or sys.stdout)


def _jsonable(value: Any) -> Any:
    if hasattr(value, "item"):  # NumPy scalar
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


class _NoBar:
    """What ``progress`` returns when there is nothing to draw on."""

    def update(self, n: int = 1) -> None:
        return None

    def set_postfix(self, *args, **kwargs) -> None:
        return None

    def close(self) -> None:
        return None

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc) -> None:
        return None


def progress(total: int, desc: str, *, unit: str = "it", enabled: bool = True,
             leave: bool = False):
    """A tqdm bar on stderr when stderr is a terminal, else an object that draws nothing.

    The bar is transient (``leave=False``) by default: commands print their own result lines,
    so a log of the run (stdout redirected, or stderr a pipe) holds only those.
    """
    stream = sys.stderr
    if not enabled or not getattr(stream, "isatty", lambda: False)():
        return _NoBar()
    try:
        from tqdm import tqdm
    except ImportError:  # tqdm is a dependency, but a bar is never worth failing a command
        return _NoBar()
    return tqdm(total=total, desc=desc, unit=unit, file=stream, leave=leave, dynamic_ncols=True)
