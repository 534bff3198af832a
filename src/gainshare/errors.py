"""Bad input, said in one line per problem (a bottom-floor helper every layer may use).

A problem line reads `FILE: FIELD: what is wrong: how to fix it` (docs/errors.md): FILE is the
input file, or is left out for a command-line option; FIELD is a dotted path into the file
(`contracts[0].price`), a place in it (`line 4, column 3`; `sheet Contracts, cell I2 (price)`),
`(file)` for the file as a whole, or a command-line option (`--out`, `--time-limit`)."""

from __future__ import annotations

import reprlib

MAX_LINE = 600  # characters of one problem line; longer ones are cut in the middle
FILE = "(file)"  # the FIELD of a problem with the file as a whole (empty, not found, not YAML)


class InputError(Exception):
    """Bad input: one line per problem, each naming file, field and fix."""

    def __init__(self, problems: list[str]):
        self.problems = [clip(line) for line in problems]
        super().__init__("\n".join(self.problems))


def clip(line: str, limit: int = MAX_LINE) -> str:
    """A line of at most `limit` characters: a long middle gives way, the fix at the end stays."""
    line = " ".join(line.split()) if "\n" in line or "\r" in line else line
    if len(line) <= limit:
        return line
    head = limit * 2 // 3
    return line[:head] + " … " + line[len(line) - (limit - head - 3) :]


_SHORT = reprlib.Repr()
_SHORT.maxstring = 40
_SHORT.maxother = 40
_SHORT.maxlong = 40
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4
_SHORT.maxlevel = 2


def excerpt(value: object) -> str:
    """A short quotation of a value someone wrote: never the whole of a large input (a YAML alias
    bomb expands to gigabytes), at most about 60 characters."""
    if isinstance(value, float) and value != value:
        return "nan"
    text = _SHORT.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
