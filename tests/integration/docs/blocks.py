"""Extracts the ```toml blocks of README.md and docs/*.md (style "Tests": docs cannot rot).

usage: blocks.py SOURCE_DIR OUT_DIR
A block holding a `[region]` table header is a complete config: it is written to OUT_DIR/N/vpced.toml and
listed as "OUT_PATH<TAB>FILE:LINE" on stdout. Other blocks are fragments, counted in a final
"SKIPPED n" line.
"""
import pathlib
import re
import sys

src, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
files = [src / "README.md"] + sorted((src / "docs").glob("*.md"))
fence = re.compile(r"^(\s*)(```+|~~~+)\s*(\S*)")
region = re.compile(r"^\s*\[\s*region\s*\]\s*(#.*)?$")
n = skipped = 0
for f in files:
    lines = f.read_text(encoding="utf-8").split("\n")
    i = 0
    while i < len(lines):
        m = fence.match(lines[i])
        if not m:
            i += 1
            continue
        indent, marker, lang = m.group(1), m.group(2), m.group(3).lower()
        start = i + 1
        j = start
        while j < len(lines) and not lines[j].strip().startswith(marker):
            j += 1
        body = [l[len(indent):] if l.startswith(indent) else l for l in lines[start:j]]
        i = j + 1
        if lang != "toml":
            continue
        if not any(region.match(l) for l in body):
            skipped += 1
            continue
        n += 1
        d = out / str(n)
        d.mkdir(parents=True)
        (d / "vpced.toml").write_text("\n".join(body) + "\n", encoding="utf-8")
        print(f"{d / 'vpced.toml'}\t{f.relative_to(src)}:{start}")
print(f"SKIPPED {skipped}")
