"""List the CUDA kernels in the disk cache, print one's source, or clear the cache.

The cache lives in $ONYX_CACHE_DIR (default ~/.cache/onyx/kernels); each kernel is keyed by
the hash of its generated source, launch shape, target arch and nvcc version.
"""

from __future__ import annotations

import argparse
import json

from onyx.tools.table import format_table

EXAMPLE = "onyx kernels --show 3fa9c1d2"


def add_parser(sub) -> None:
    p = sub.add_parser("kernels", help="list, show or clear cached CUDA kernels",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog=f"examples:\n  onyx kernels\n  {EXAMPLE}\n  onyx kernels --clear")
    p.add_argument("--show", metavar="HASH", help="print the CUDA source of this kernel "
                   "(a unique prefix of its hash, or its k_<hash> name)")
    p.add_argument("--clear", action="store_true", help="delete every cached kernel")
    p.add_argument("--json", action="store_true", help="print the listing as JSON")
    p.add_argument("--dir", help="cache directory (default: $ONYX_CACHE_DIR or "
                   "~/.cache/onyx/kernels)")
    p.set_defaults(func=main)


def main(args) -> int:
    from onyx.backends.cuda.cache import KernelCache
    cache = KernelCache(args.dir)
    if args.show:
        print(cache.source(args.show), end="")
        return 0
    if args.clear:
        n = cache.clear()
        print(f"removed {n} cached kernel{'s' if n != 1 else ''} from {cache.root}")
        return 0
    entries = cache.entries()
    if args.json:
        print(json.dumps(entries, indent=1))
        return 0
    if not entries:
        print(f"no cached kernels in {cache.root}")
        return 0
    rows = [[e["key"], e.get("op", "?"), *_split(e.get("signature", "")), e.get("arch", "?"),
             ",".join(e.get("compiled", [])) or "no"] for e in entries]
    print(format_table(["hash", "op", "dtypes", "shapes", "arch", "compiled"], rows))
    print(f"{len(entries)} kernel{'s' if len(entries) != 1 else ''} in {cache.root}")
    return 0


def _split(signature: str) -> tuple[str, str]:
    """``f32[2,3],f32[3]->f32[2,3]`` as dtypes ``f32,f32->f32`` and shapes
    ``[2,3],[3]->[2,3]``."""
    dtypes, shapes = [], []
    for side in signature.split("->"):
        d, s = [], []
        depth, cur = 0, ""
        for ch in side + ",":
            if ch == "," and depth == 0:
                if cur:
                    name, _, dims = cur.partition("[")
                    d.append(name)
                    s.append("[" + dims if dims else "-")
                cur = ""
                continue
            depth += ch == "["
            depth -= ch == "]"
            cur += ch
        dtypes.append(",".join(d))
        shapes.append(",".join(s))
    return "->".join(dtypes), "->".join(shapes)
