"""String kernels: StringConcat, StringNormalizer, StringSplit, RegexFullMatch, TfIdfVectorizer.

Strings are NumPy object arrays of Python ``str``. Per-string work (case mapping, splitting,
matching) is a Python loop over the elements, as there is no vectorised form of it; the n-gram
counting of TfIdfVectorizer is vectorised by mapping every token to an integer id first.
"""

from __future__ import annotations

import functools
import re

import numpy as np

from onyx.backends.numpy.registry import kernel
from onyx.ir.errors import ModelError, ShapeError, UnsupportedOpError
from onyx.ir.limits import check_elements


def _strings(values, shape) -> np.ndarray:
    """An object array of ``shape`` holding ``values`` (never a fixed-width '<U' array)."""
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out.reshape(shape)


def _check_strings(x, what: str = "X") -> np.ndarray:
    x = np.asarray(x)
    if x.dtype != object:
        raise ShapeError(f"{what} must be a string tensor, got {x.dtype}{list(x.shape)}")
    return x


# ------------------------------------------------------------------ StringConcat
@kernel("StringConcat", since=20)
def string_concat(x, y):
    x, y = _check_strings(x, "X"), _check_strings(y, "Y")
    try:
        shape = np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        raise ShapeError(f"shapes {list(x.shape)} and {list(y.shape)} do not broadcast") \
            from None
    check_elements(shape, 64, "StringConcat output")
    return np.asarray(np.add(x, y, dtype=object), dtype=object).reshape(shape)


# ------------------------------------------------------------------ StringNormalizer
def _map_case(s: str, upper: bool) -> str:
    """Per-character case mapping: a character whose mapping is several characters (German
    'ß' -> 'SS') is kept, so the string keeps its length, as character-wise C++ runtimes do."""
    mapped = s.upper() if upper else s.lower()
    if len(mapped) == len(s):
        return mapped
    return "".join(c if len(m := (c.upper() if upper else c.lower())) != 1 else m for c in s)


@kernel("StringNormalizer", since=10)
def string_normalizer(x, *, case_change_action="NONE", is_case_sensitive=0, locale=None,
                      stopwords=None):
    # ``locale`` is accepted and not used: case mapping is Unicode's, independent of locale
    x = _check_strings(x)
    if not (x.ndim == 1 or x.ndim == 2 and x.shape[0] == 1):
        raise ShapeError(f"input must be [C] or [1, C], got shape {list(x.shape)}")
    if case_change_action not in ("NONE", "LOWER", "UPPER"):
        raise ShapeError(f"case_change_action must be NONE, LOWER or UPPER, got "
                         f"{case_change_action!r}")
    words = list(x.reshape(-1))
    if stopwords:
        if is_case_sensitive:
            stop = set(stopwords)
            words = [w for w in words if w not in stop]
        else:
            stop = {s.casefold() for s in stopwords}
            words = [w for w in words if w.casefold() not in stop]
    if case_change_action != "NONE":
        upper = case_change_action == "UPPER"
        words = [_map_case(w, upper) for w in words]
    if not words and x.size:
        words = [""]  # every word was a stop word: the spec's "empty value" of one element
    return _strings(words, (len(words),) if x.ndim == 1 else (1, len(words)))


# ------------------------------------------------------------------ StringSplit
@kernel("StringSplit", since=20)
def string_split(x, *, delimiter=None, maxsplit=None):
    x = _check_strings(x)
    sep = delimiter or None  # unset or "": split on runs of whitespace, trimmed
    limit = -1 if maxsplit is None else int(maxsplit)
    if limit < -1:
        raise ShapeError(f"maxsplit must be >= 0 (or unset), got {limit}")
    # whitespace mode trims both ends, so a maxsplit remainder has no trailing blanks either
    parts = [(s if sep else s.strip()).split(sep, limit) for s in x.reshape(-1)]
    counts = np.array([len(p) for p in parts], dtype=np.int64).reshape(x.shape)
    width = int(counts.max()) if counts.size else 0
    check_elements(list(x.shape) + [width], 64, "StringSplit output")
    padded = [p + [""] * (width - len(p)) for p in parts]
    return _strings([s for p in padded for s in p], list(x.shape) + [width]), counts


# ------------------------------------------------------------------ RegexFullMatch
# ONNX patterns are RE2; Python's ``re`` differs in a few places, translated here:
# - \d \w \s \b are ASCII-only in RE2 (Unicode in ``re``): spelled out as ASCII classes;
# - ``$`` outside multi-line mode is the end of text only (``re`` also matches before a final
#   newline): written \Z;
# - flags may appear mid-pattern, ``(?i)``, scoped to the rest of the group: written as
#   scoped groups ``(?i:...)``, closed at each ``|`` and ``)`` of that group and reopened;
# - (?<name>...), \z, \Q...\E, \x{10FFFF}, octal \123 and POSIX [[:alpha:]] are rewritten.
# Constructs RE2 rejects (backreferences, lookaround, atomic groups, possessive repeats,
# repeat counts over 1000) raise ModelError; valid RE2 that ``re`` cannot express (Unicode
# classes \pN, \C, ungreedy flag U) raises UnsupportedOpError. ``re`` backtracks, so unlike
# RE2 its time is not linear in the input on pathological patterns.
_DIGIT, _WORD, _SPACE = "0-9", "0-9A-Za-z_", "\t\n\f\r "
_POSIX = {"alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\x00-\x7f", "blank": "\t ",
          "cntrl": "\x00-\x1f\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
          "print": " -~", "punct": "!-/:-@[-`{-~", "space": "\t\n\v\f\r ", "upper": "A-Z",
          "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f"}


def _code_points(spec: str) -> set[int]:
    """The code points of an ASCII class body like ``0-9A-Z_``."""
    out, i = set(), 0
    while i < len(spec):
        if i + 2 < len(spec) and spec[i + 1] == "-":
            out.update(range(ord(spec[i]), ord(spec[i + 2]) + 1))
            i += 3
        else:
            out.add(ord(spec[i]))
            i += 1
    return out


def _class_body(spec: str, negate: bool) -> str:
    """A ``re`` class body (no brackets) for an ASCII set, or for its complement."""
    points = _code_points(spec)
    if negate:
        points = set(range(128)) - points
    runs, start = [], None
    for cp in range(129):
        inside = cp in points
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            runs.append((start, cp - 1))
            start = None
    body = "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in runs)
    return body + ("\\U00000080-\\U0010ffff" if negate else "")


_SHORTHAND = {"d": (_DIGIT, False), "D": (_DIGIT, True), "w": (_WORD, False),
              "W": (_WORD, True), "s": (_SPACE, False), "S": (_SPACE, True)}
_REPEAT = re.compile(r"\{(\d+)(?:,(\d*))?\}")
_FLAGS = re.compile(r"\(\?([imsU]*)(?:-([imsU]*))?([:)])")


class _Re2Translator:
    def __init__(self, pattern: str):
        self.src, self.i, self.out = pattern, 0, []
        # one entry per open group: [scoped flag groups opened inside it, multi-line on?]
        self.levels: list[list] = [[[], False]]

    def fail(self, message: str, unsupported: bool = False):
        text = f"pattern {self.src!r}: {message}"
        if unsupported:
            raise UnsupportedOpError("RegexFullMatch", detail=text)
        raise ModelError(f"{text} (not valid RE2 syntax)")

    def run(self) -> str:
        while self.i < len(self.src):
            c = self.src[self.i]
            self.i += 1
            if c == "\\":
                self.out.append(self.escape(in_class=False))
            elif c == "[":
                self.char_class()
            elif c == "(":
                self.group()
            elif c == ")":
                if len(self.levels) == 1:
                    self.fail("unbalanced ')'")
                self.out.append(")" * len(self.levels.pop()[0]) + ")")
            elif c == "|":
                flags = self.levels[-1][0]
                self.out.append(")" * len(flags) + "|" + "".join(f"(?{f}:" for f in flags))
            elif c == "$":
                self.out.append("$" if self.levels[-1][1] else r"\Z")
            elif c in "*+?{":
                self.repeat(c)
            else:
                self.out.append(c)
        if len(self.levels) != 1:
            self.fail("missing ')'")
        return "".join(self.out) + ")" * len(self.levels[0][0])

    def repeat(self, c: str) -> None:
        if c == "{":
            m = _REPEAT.match(self.src, self.i - 1)
            if m is None:  # not a repeat: RE2 and re both read a literal brace
                self.out.append(r"\{")
                return
            if any(g and int(g) > 1000 for g in m.groups()):
                self.fail(f"repeat count in {m.group(0)} is over 1000")
            self.i = m.end()
            c = m.group(0)
        self.out.append(c)
        if self.i < len(self.src) and self.src[self.i] == "+":
            self.fail("possessive repeats ('*+', '++', ...) are not RE2")

    def group(self) -> None:
        multiline = self.levels[-1][1]
        rest = self.src[self.i:]
        if not rest.startswith("?"):
            self.levels.append([[], multiline])
            self.out.append("(")
            return
        if rest.startswith(("?P<", "?<")) and not rest.startswith(("?<=", "?<!")):
            self.i += 3 if rest.startswith("?P<") else 2
            self.levels.append([[], multiline])
            self.out.append("(?P<")
            return
        if rest.startswith("?:"):
            self.i += 2
            self.levels.append([[], multiline])
            self.out.append("(?:")
            return
        m = _FLAGS.match(self.src, self.i - 1)
        if m is None or not (m.group(1) or m.group(2)):
            self.fail("lookaround, backreference, atomic and comment groups are not RE2")
        on, off, end = m.group(1), m.group(2) or "", m.group(3)
        if "U" in on + off:
            self.fail("the ungreedy flag U has no Python equivalent", unsupported=True)
        self.i = m.end()
        spec = on + (f"-{off}" if off else "")
        multiline = "m" in on or (multiline and "m" not in off)
        if end == ":":
            self.levels.append([[], multiline])
        else:  # (?i): applies to the rest of the enclosing group
            self.levels[-1][0].append(spec)
            self.levels[-1][1] = multiline
        self.out.append(f"(?{spec}:")

    def char_class(self) -> None:
        parts = ["["]
        if self.src.startswith("^", self.i):
            parts.append("^")
            self.i += 1
        first = True
        while True:
            if self.i >= len(self.src):
                self.fail("missing ']'")
            c = self.src[self.i]
            self.i += 1
            if c == "]" and not first:
                break
            first = False
            if c == "\\":
                parts.append(self.escape(in_class=True))
            elif c == "[" and self.src.startswith(":", self.i):
                parts.append(self.posix_class())
            else:
                parts.append(re.escape(c) if c in "[]&~|" else c)
        self.out.append("".join(parts) + "]")

    def posix_class(self) -> str:
        end = self.src.find(":]", self.i + 1)
        name = self.src[self.i + 1:end] if end > 0 else ""
        negate = name.startswith("^")
        if name.lstrip("^") not in _POSIX:
            self.fail(f"unknown POSIX class [:{name}:]")
        self.i = end + 2
        return _class_body(_POSIX[name.lstrip("^")], negate)

    def escape(self, in_class: bool) -> str:
        if self.i >= len(self.src):
            self.fail("trailing backslash")
        e = self.src[self.i]
        self.i += 1
        if e in _SHORTHAND:
            body = _class_body(*_SHORTHAND[e])
            return body if in_class else f"[{body}]"
        if e in "bB" and not in_class:
            return f"(?a:\\{e})"
        if e == "z" and not in_class:
            return r"\Z"
        if e == "Q":
            end = self.src.find(r"\E", self.i)
            end = len(self.src) if end < 0 else end
            text, self.i = self.src[self.i:end], min(end + 2, len(self.src))
            return "".join(f"\\U{ord(ch):08x}" for ch in text) if in_class else re.escape(text)
        if e == "E":
            return ""
        if e in "pPCZ":
            self.fail(f"\\{e} is not supported here (no Python equivalent, or not RE2)",
                      unsupported=e in "pPC")
        if e == "x" and self.src.startswith("{", self.i):
            end = self.src.find("}", self.i)
            try:
                cp = int(self.src[self.i + 1:end], 16)
            except ValueError:
                cp = -1
            if end < 0 or not 0 <= cp <= 0x10FFFF:
                self.fail("bad \\x{...} escape")
            self.i = end + 1
            return f"\\U{cp:08x}"
        if e.isdigit():
            return self.octal(e)
        return "\\" + e

    def octal(self, e: str) -> str:
        m = re.compile(r"[0-7]{0,2}").match(self.src, self.i)
        digits = m.group(0)
        if e in "89" or (e != "0" and not digits):
            self.fail(f"backreference \\{e}")
        self.i = m.end()
        return f"\\U{int(e + digits, 8):08x}"


@functools.lru_cache(maxsize=256)
def compile_re2(pattern: str) -> re.Pattern:
    """``re`` pattern with RE2's meaning for ``pattern`` (see the notes above)."""
    translated = _Re2Translator(pattern).run()
    try:
        return re.compile(translated)
    except re.error as exc:
        raise ModelError(f"pattern {pattern!r} is not a valid regular expression: {exc}") \
            from None


@kernel("RegexFullMatch", since=20)
def regex_full_match(x, *, pattern=None):
    x = _check_strings(x)
    if pattern is None:
        raise ShapeError("the pattern attribute is required")
    regex: re.Pattern = compile_re2(pattern)
    flat = [regex.fullmatch(s) is not None for s in x.reshape(-1)]
    return np.array(flat, dtype=bool).reshape(x.shape)


# ------------------------------------------------------------------ TfIdfVectorizer
def _token_ids(x: np.ndarray, pool: list) -> tuple[np.ndarray, np.ndarray]:
    """Each input token and each pool entry as an id into the pool's vocabulary (-1: absent)."""
    vocab = {v: i for i, v in enumerate(dict.fromkeys(pool))}
    pool_ids = np.array([vocab[v] for v in pool], dtype=np.int64)
    flat = x.reshape(-1)
    if x.dtype == object:
        ids = np.array([vocab.get(t, -1) for t in flat], dtype=np.int64)
    elif not vocab:
        ids = np.full(flat.shape, -1, dtype=np.int64)
    else:
        # vocab ids are 0..V-1 in insertion order; look tokens up in the sorted keys
        keys = np.fromiter(vocab, dtype=np.int64, count=len(vocab))
        order = np.argsort(keys)
        pos = np.searchsorted(keys[order], flat).clip(max=len(keys) - 1)
        ids = np.where(keys[order][pos] == flat, order[pos], -1)
    return ids.reshape(x.shape), pool_ids


def _pool_grams(pool_ids: np.ndarray, ngram_counts: list) -> list[tuple[int, np.ndarray]]:
    """For n = 1, 2, ...: the first n-gram number and the [count, n] id matrix of the pool."""
    starts = list(ngram_counts) + [len(pool_ids)]
    groups, number = [], 0
    for n, (lo, hi) in enumerate(zip(starts[:-1], starts[1:]), start=1):
        if not 0 <= lo <= hi <= len(pool_ids) or (hi - lo) % n:
            raise ShapeError(f"ngram_counts {list(ngram_counts)} do not split a pool of "
                             f"{len(pool_ids)} into whole {n}-grams")
        grams = pool_ids[lo:hi].reshape(-1, n)
        groups.append((number, grams))
        number += len(grams)
    return groups


def _count_grams(ids: np.ndarray, first: int, grams: np.ndarray, skip: int,
                 counts: np.ndarray) -> None:
    """Add the occurrences in every row of ``ids`` of each n-gram with gaps of ``skip``."""
    n, length = grams.shape[1], ids.shape[1]
    span = (n - 1) * (skip + 1)
    if len(grams) == 0 or length <= span:
        return
    starts = np.arange(length - span)
    windows = ids[:, starts[:, None] + np.arange(n) * (skip + 1)]  # [rows, windows, n]
    flat = windows.reshape(-1, n)
    table, inverse = np.unique(np.concatenate([grams, flat]), axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    gram_of = np.full(len(table), -1, dtype=np.int64)
    gram_of[inverse[:len(grams)]] = np.arange(len(grams)) + first
    hit = gram_of[inverse[len(grams):]]
    rows = np.repeat(np.arange(ids.shape[0]), windows.shape[1])
    keep = hit >= 0
    np.add.at(counts, (rows[keep], hit[keep]), 1)


@kernel("TfIdfVectorizer", since=9)
def tfidf_vectorizer(x, *, mode, min_gram_length, max_gram_length, max_skip_count,
                     ngram_counts, ngram_indexes, pool_int64s=None, pool_strings=None,
                     weights=None):
    x = np.asarray(x)
    if x.ndim not in (1, 2):
        raise ShapeError(f"input must be [C] or [N, C], got shape {list(x.shape)}")
    if (pool_int64s is None) == (pool_strings is None):
        raise ShapeError("exactly one of pool_int64s and pool_strings must be set")
    pool = pool_strings if pool_strings is not None else pool_int64s
    if (x.dtype == object) != (pool_strings is not None):
        raise ShapeError(f"a {x.dtype} input needs "
                         f"{'pool_strings' if x.dtype == object else 'pool_int64s'}")
    if mode not in ("TF", "IDF", "TFIDF"):
        raise ShapeError(f"mode must be TF, IDF or TFIDF, got {mode!r}")
    if not 1 <= min_gram_length <= max_gram_length or max_skip_count < 0:
        raise ShapeError(f"bad n-gram range {min_gram_length}..{max_gram_length} or "
                         f"max_skip_count {max_skip_count}")
    rows = x.reshape(1, -1) if x.ndim == 1 else x
    ids, pool_ids = _token_ids(rows, list(pool))
    groups = _pool_grams(pool_ids, ngram_counts)
    total = sum(len(g) for _, g in groups)
    indexes = np.asarray(ngram_indexes, dtype=np.int64)
    if len(indexes) != total or (total and indexes.min() < 0):
        raise ShapeError(f"ngram_indexes must hold {total} non-negative coordinates (one per "
                         f"pool n-gram), got {len(indexes)}")
    width = int(indexes.max()) + 1 if total else 0
    check_elements([rows.shape[0], width], 32, "TfIdfVectorizer output")
    counts = np.zeros((rows.shape[0], total), dtype=np.int64)
    for n in range(min_gram_length, min(max_gram_length, len(groups)) + 1):
        first, grams = groups[n - 1]
        for skip in range(max_skip_count + 1 if n > 1 else 1):
            _count_grams(ids, first, grams, skip, counts)
    values = np.minimum(counts, 1) if mode == "IDF" else counts
    values = values.astype(np.float32)
    if mode != "TF" and weights:
        if len(weights) != total:
            raise ShapeError(f"weights has {len(weights)} values for {total} n-grams")
        values *= np.asarray(weights, dtype=np.float32)
    out = np.zeros((rows.shape[0], width), dtype=np.float32)
    np.add.at(out, (slice(None), indexes), values)
    return out.reshape(-1) if x.ndim == 1 else out
