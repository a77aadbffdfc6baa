"""Find the grammar text and build the one Lark LALR parser (cached per user).

The grammar lives in ``grammar/adiff.lark`` at the top of the project. A wheel
ships it as ``autodiff_cli/grammar/adiff.lark`` (hatchling force-include);
a checkout or an editable install reads the top-level copy.

The analysed parser is cached in a per-user directory created with mode 0700
(``$XDG_CACHE_HOME/adiff`` or ``~/.cache/adiff``). Lark's own ``cache=True``
writes a predictable pickle in the shared temp directory, which another local
user could plant, so it is never used. If the directory cannot be made safe,
the parser is built without a cache.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
from importlib import resources
from pathlib import Path

GRAMMAR_NAME = "adiff.lark"


def grammar_text() -> str:
    res = resources.files("autodiff_cli").joinpath("grammar", GRAMMAR_NAME)
    if res.is_file():  # installed from a wheel
        return res.read_text(encoding="utf-8")
    src = Path(__file__).resolve().parent.parent / "grammar" / GRAMMAR_NAME
    if src.is_file():  # checkout or editable install
        return src.read_text(encoding="utf-8")
    raise FileNotFoundError(f"grammar {GRAMMAR_NAME} not found (package data or {src})")


@functools.lru_cache(maxsize=1)
def name_regex():
    """The compiled NAME terminal of the grammar, for --at names and the printer."""
    m = re.search(r"^NAME:\s*/(.*)/\s*$", grammar_text(), flags=re.M)
    if m is None:  # pragma: no cover - the grammar defines NAME
        raise RuntimeError("grammar has no NAME terminal")
    return re.compile(m.group(1))


def _cache_dir() -> Path | None:
    """A directory only this user can write, or None."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = Path(base) / "adiff"
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = path.lstat()
        if (not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid()
                or st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)):
            return None
    except (OSError, AttributeError):  # AttributeError: no os.getuid (Windows)
        return None
    return path


_PARSER = None


def parser(transformer):
    """The LALR parser with ``transformer`` inlined (built once per process)."""
    global _PARSER
    if _PARSER is None:
        import lark

        text = grammar_text()
        options = dict(parser="lalr", lexer="contextual", transformer=transformer,
                       maybe_placeholders=True, propagate_positions=False)
        cache = None
        directory = _cache_dir()
        if directory is not None:
            key = hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
            cache = str(directory / f"grammar-{lark.__version__}-{key}.lark-cache")
        try:
            _PARSER = lark.Lark(text, cache=cache or False, **options)
        except OSError:
            _PARSER = lark.Lark(text, **options)
    return _PARSER
