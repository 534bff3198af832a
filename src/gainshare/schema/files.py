"""Reading input files, the floor every reader stands on: regular files only, their size counted
while they are read, text decoded as UTF-8, and YAML or JSON parsed into plain data under one
set of rules (SPEC section 7):

- YAML with the safe loader only (libyaml's, in C, where PyYAML has it): no tags, no objects;
- a key given twice in one mapping is an error, never "the last one wins";
- YAML aliases may repeat a value, but not expand the file beyond `MAX_VALUES` values (an alias
  bomb), and mappings and lists nest at most `MAX_DEPTH` deep;
- every number is finite (`.nan`, `NaN`, `.inf`, `1e999` are refused, naming the field);
- YAML 1.2 exponents (`2e6`, `1.5E+6`) are numbers, as they are in JSON.

Every problem is an `InputError` with one line naming the file, the field and the fix."""

from __future__ import annotations

import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Any

import yaml

from gainshare.errors import FILE, InputError, excerpt

MAX_FILE_BYTES = 5 * 1024 * 1024  # a case, agreement or sweep file (a workbook too)
MAX_DEPTH = 32  # mappings and lists inside each other; a case needs fewer than 10
MAX_VALUES = 200_000  # values in one file once YAML aliases are expanded

# ---------------------------------------------------------------- bytes


def _kind_of(mode: int) -> str | None:
    """What a path is when it is not a regular file or a folder."""
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else "not a regular file"


def _refuse(name: str, message: str) -> InputError:
    return InputError([f"{name}: {FILE}: {message}"])


def _stat(path: str | Path, name: str) -> os.stat_result:
    try:
        return os.stat(path)  # follows a symbolic link to what it points at
    except (FileNotFoundError, NotADirectoryError):
        raise _refuse(name, "file not found: check the path") from None
    except PermissionError:
        raise _refuse(name, "cannot be read (permission denied): check its permissions") from None
    except (OSError, ValueError) as e:
        why = getattr(e, "strerror", None) or str(e)
        raise _refuse(name, f"cannot be read ({why}): check the path") from None


def _check_kind(st: os.stat_result, name: str, kind: str) -> None:
    if stat.S_ISDIR(st.st_mode):
        raise _refuse(name, f"is a folder, not a file: give the path of a {kind}")
    what = _kind_of(st.st_mode)
    if what is not None:
        raise _refuse(name, f"is {what}, not a regular file: give the path of a {kind}")
    if st.st_size > MAX_FILE_BYTES:
        raise _refuse(name, f"file is {st.st_size:,} bytes, over the {MAX_FILE_BYTES:,}-byte "
                      "limit: split it")  # fmt: skip


def read_input(path: str | Path, kind: str = ".yaml file") -> bytes:
    """The bytes of an input file that is a regular file within the size limit. The size is
    counted while reading (a file that grows, or lies about its size, is cut off at the limit),
    and opening never waits (a named pipe swapped in after the check is refused, not read)."""
    name = str(path)
    _check_kind(_stat(path, name), name, kind)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise _refuse(name, f"cannot be read ({e.strerror}): check the path and its "
                      "permissions") from None  # fmt: skip
    try:
        _check_kind(os.fstat(fd), name, kind)
        chunks, total = [], 0
        while chunk := os.read(fd, 1 << 16):
            total += len(chunk)
            if total > MAX_FILE_BYTES:
                raise _refuse(name, f"file is over the {MAX_FILE_BYTES:,}-byte limit: split it")
            chunks.append(chunk)
    except OSError as e:
        raise _refuse(name, f"cannot be read ({e.strerror}): check the file") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


_UTF16 = (b"\xff\xfe", b"\xfe\xff")
_UTF32 = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")


def _looks_utf16(head: bytes) -> bool:
    """UTF-16 without a byte-order mark: every other byte of plain text is zero."""
    if len(head) < 8:
        return False
    return any(half.count(0) >= len(half) * 3 // 4 for half in (head[0::2], head[1::2]))


def decode_text(raw: bytes, name: str) -> str:
    """UTF-8 text (a byte-order mark is allowed) of a YAML or JSON file."""
    if not raw.strip():
        raise _refuse(name, "file is empty: write the case as YAML (see cases/)")
    head = raw[:64]
    if head.startswith(_UTF32) or head.startswith(_UTF16) or _looks_utf16(head):
        raise _refuse(name, "is UTF-16 or UTF-32 text: save it as UTF-8 (in Notepad or Excel: "
                      "Save As, encoding UTF-8)")  # fmt: skip
    if b"\x00" in raw:
        raise _refuse(name, "is a binary file, not YAML or JSON text: check the file")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _refuse(name, f"byte {e.start} is not UTF-8 text: save the file as UTF-8") from None


def read_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON file into a mapping, refusing anything unsafe or malformed."""
    name = str(path)
    text = decode_text(read_input(path), name)
    return parse_text(text, name, json_first=Path(path).suffix.lower() == ".json")


# ---------------------------------------------------------------- YAML

_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_EXPONENT = re.compile(r"^[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9][0-9_]*)[eE][-+]?[0-9]+$")


class _BadValue(yaml.MarkedYAMLError):
    """A scalar that resolves to a type but whose text cannot be read as one (a date with month
    13, an integer of 5,000 digits)."""


class SafeLoader(_BASE_LOADER):  # type: ignore[valid-type,misc]
    """The safe loader (C where available) reading YAML 1.2 exponents as numbers and naming the
    line of a value it cannot construct."""

    def construct_object(self, node, deep=False):
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError, TypeError) as e:
            if isinstance(e, yaml.YAMLError):
                raise
            raise _BadValue(problem=f"{excerpt(node.value)} cannot be read ({e})",
                            problem_mark=node.start_mark) from None  # fmt: skip


SafeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT, list("-+.0123456789"))


def _key_text(node) -> str | None:
    return node.value if isinstance(node, yaml.ScalarNode) else None


def _child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


class _NodeWalk:
    """One pass over a composed YAML document: expanded size (an alias counts every time it is
    used), nesting depth and keys given twice, each with the path where it was first seen."""

    def __init__(self, name: str):
        self.name = name
        self.size: dict[int, int] = {}
        self.depth: dict[int, int] = {}
        self.kids: dict[int, list] = {}
        self.problems: list[str] = []

    def children(self, node, path: str) -> list[tuple[Any, str]]:
        if isinstance(node, yaml.SequenceNode):
            return [(v, _child_path(path, i)) for i, v in enumerate(node.value)]
        if not isinstance(node, yaml.MappingNode):
            return []
        self.duplicates(node, path)
        out = []
        for k, v in node.value:
            if not isinstance(k, yaml.ScalarNode):
                out.append((k, path))
            out.append((v, _child_path(path, _key_text(k) or "?")))
        return out

    def duplicates(self, node, path: str) -> None:
        seen: dict[tuple, int] = {}
        for k, _ in node.value:
            text = _key_text(k)
            if text is None or text == "<<":
                continue
            line = k.start_mark.line + 1
            if (k.tag, text) in seen:
                self.problems.append(
                    f"{self.name}: {_child_path(path, excerpt(text).strip(chr(39)))}: is given "
                    f"twice (lines {seen[k.tag, text]} and {line}): keep one of them"
                )
            else:
                seen[k.tag, text] = line

    def run(self, root) -> None:
        """Post-order walk without recursion; a node met again is an alias (counted, not walked
        again)."""
        stack: list[tuple[Any, str, bool]] = [(root, "", False)]
        on_path: set[int] = set()
        while stack:
            node, path, done = stack.pop()
            key = id(node)
            if done:
                on_path.discard(key)
                kids = [id(c) for c, _ in self.kids.pop(key)]
                self.size[key] = 1 + sum(self.size[c] for c in kids)
                self.depth[key] = 1 + max((self.depth[c] for c in kids), default=0)
                self.limits(key, path)
            elif key in on_path:
                raise InputError([f"{self.name}: {path or FILE}: a YAML alias refers to itself: "
                                  "write the value out"])  # fmt: skip
            elif key not in self.size:
                on_path.add(key)
                self.kids[key] = self.children(node, path)
                stack.append((node, path, True))
                stack.extend((c, p, False) for c, p in reversed(self.kids[key]))

    def limits(self, key: int, path: str) -> None:
        where = path or FILE
        if self.size[key] > MAX_VALUES:
            raise InputError([f"{self.name}: {where}: YAML aliases expand the file to more than "
                              f"{MAX_VALUES:,} values: write the values out instead of repeating "
                              "aliases"])  # fmt: skip
        if self.depth[key] > MAX_DEPTH:
            raise InputError([f"{self.name}: {where}: mappings and lists nest more than "
                              f"{MAX_DEPTH} deep: a case needs a few levels; check the brackets "
                              "and indentation"])  # fmt: skip


def _yaml_error(name: str, e: yaml.YAMLError) -> InputError:
    mark = getattr(e, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else FILE
    problem = getattr(e, "problem", None) or "not valid YAML"
    if isinstance(e, _BadValue):
        return InputError([f"{name}: {where}: {problem}: write a plain number or date, or put "
                           "text in quotes"])  # fmt: skip
    if isinstance(e, yaml.constructor.ConstructorError):
        if "constructor for the tag" in problem:
            return InputError([f"{name}: {where}: YAML tag not allowed ({excerpt(problem)}): cases "
                               "are plain data, remove the tag"])  # fmt: skip
        return InputError([f"{name}: {where}: {excerpt(problem)}: write keys as plain text"])
    if "nesting depth" in problem:
        return InputError([f"{name}: {where}: mappings and lists nest too deep: a case needs a "
                           "few levels; check the brackets and indentation"])  # fmt: skip
    return InputError([f"{name}: {where}: malformed YAML ({problem}): check indentation and "
                       "colons"])  # fmt: skip


def parse_yaml(text: str, name: str) -> Any:
    loader = SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        walk = _NodeWalk(name)
        walk.run(node)
        if walk.problems:
            raise InputError(walk.problems)
        return loader.construct_document(node)
    except yaml.YAMLError as e:
        raise _yaml_error(name, e) from None
    except RecursionError:
        raise InputError([f"{name}: {FILE}: mappings and lists nest too deep: a case needs a "
                          "few levels; check the brackets and indentation"]) from None  # fmt: skip
    finally:
        loader.dispose()


# ---------------------------------------------------------------- JSON


class _Pairs:
    """object_pairs_hook that remembers keys given twice (JSON says nothing of its position)."""

    def __init__(self):
        self.twice: list[tuple[dict, str]] = []

    def __call__(self, pairs: list[tuple[str, Any]]) -> dict:
        out: dict = {}
        for k, v in pairs:
            if k in out:
                self.twice.append((out, k))
            out[k] = v
        return out


def parse_json(text: str, name: str) -> Any:
    hook = _Pairs()
    try:
        data = json.loads(text, object_pairs_hook=hook)
    except json.JSONDecodeError as e:
        raise InputError([f"{name}: line {e.lineno}, column {e.colno}: malformed JSON "
                          f"({e.msg}): fix it"]) from None  # fmt: skip
    except RecursionError:
        raise InputError([f"{name}: {FILE}: objects and arrays nest too deep: a case needs a few "
                          "levels; check the brackets"]) from None  # fmt: skip
    except ValueError as e:  # e.g. an integer of more than 4,300 digits
        raise InputError([f"{name}: {FILE}: a value cannot be read ({excerpt(str(e))}): write "
                          "plain numbers"]) from None  # fmt: skip
    if hook.twice:
        paths = {id(d): p for p, d in _containers(data) if isinstance(d, dict)}
        raise InputError([f"{name}: {_child_path(paths.get(id(d), ''), k)}: is given twice: keep "
                          "one of them" for d, k in hook.twice])  # fmt: skip
    return data


# ---------------------------------------------------------------- plain data


def _containers(data: Any):
    """(path, container) for every mapping and list, each once, without recursion."""
    stack = [("", data, 1)]
    seen: set[int] = set()
    while stack:
        path, node, depth = stack.pop()
        if not isinstance(node, dict | list) or id(node) in seen:
            continue
        seen.add(id(node))
        yield path, node
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in items:
            if isinstance(v, dict | list):
                stack.append((_child_path(path, k if isinstance(k, int | str) else str(k)), v,
                              depth + 1))  # fmt: skip


def check_plain_data(data: Any, name: str) -> None:
    """Nesting depth and finite numbers of parsed data (YAML or JSON alike)."""
    problems: list[str] = []
    stack = [("", data, 0)]
    seen: set[int] = set()
    while stack:
        path, node, depth = stack.pop()
        if isinstance(node, float) and not math.isfinite(node):
            problems.append(f"{name}: {path or FILE}: is {excerpt(node)}, not a finite number: "
                            "write a plain number")  # fmt: skip
            continue
        if not isinstance(node, dict | list) or id(node) in seen:
            continue
        if depth >= MAX_DEPTH:
            raise InputError([f"{name}: {path or FILE}: mappings and lists nest more than "
                              f"{MAX_DEPTH} deep: a case needs a few levels; check the "
                              "brackets"])  # fmt: skip
        seen.add(id(node))
        items = node.items() if isinstance(node, dict) else enumerate(node)
        children = [(_child_path(path, k if isinstance(k, int | str) else str(k)), v, depth + 1)
                    for k, v in items]  # fmt: skip
        stack.extend(reversed(children))
    if problems:
        raise InputError(problems[:30])


def parse_text(text: str, name: str, json_first: bool = False,
               lists: bool = False) -> dict[str, Any]:  # fmt: skip
    """The mapping a YAML or JSON text holds (JSON when `json_first`; with `lists` a list of
    mappings too, as a workbook cell may hold), checked as plain data."""
    data = parse_json(text, name) if json_first else parse_yaml(text, name)
    if data is None:
        raise _refuse(name, "file has no content: write the case as YAML (see cases/)")
    if lists and isinstance(data, list):
        check_plain_data(data, name)
        return data
    if not isinstance(data, dict):
        raise _refuse(name, f"top level is a {type(data).__name__}, not a mapping of keys: "
                      "see cases/ for examples")  # fmt: skip
    check_plain_data(data, name)
    return data


__all__ = [
    "FILE",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "MAX_VALUES",
    "InputError",
    "SafeLoader",
    "check_plain_data",
    "decode_text",
    "parse_text",
    "read_input",
    "read_mapping",
]
