"""Takes one fenced block out of a docs page, fills in its placeholders, and writes it where a test runs it, so
that the test runs the config an operator pastes (docs/secondaries.md; transfer/run.sh and transfer/bind.sh).

usage: docs_block.py DOC INFO OUT [NAME=VALUE ...]
       docs_block.py DOC INFO --toml-into CONF [NAME=VALUE ...]

INFO is the block's whole info string (what follows the opening ```, e.g. "yaml knot.conf"); exactly one block
of DOC must have it. Every NAME must occur in the block and is replaced by VALUE everywhere, in the order given.
The first form writes the block to OUT. The second takes a block holding one TOML table (`[transfer]`) and puts
it in place of that table in the TOML file CONF, which must have it; the edited file must parse and hold the
block's table as it is. Any failure exits non-zero with the reason.
"""
import re
import sys
import tomllib


def block_of(doc, info):
    text = open(doc).read()
    found = [b for i, b in re.findall(r"(?ms)^```([^\n`]*)\n(.*?)^```[ \t]*$", text) if i.strip() == info]
    if len(found) != 1:
        raise SystemExit(f"{doc}: expected one ```{info} block, found {len(found)}")
    return found[0]


def fill(block, info, pairs):
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise SystemExit(f"not NAME=VALUE: {pair!r}")
        if name not in block:
            raise SystemExit(f"the ```{info} block has no placeholder {name}")
        block = block.replace(name, value)
    return block


def toml_into(conf, block, info):
    try:
        table = tomllib.loads(block)
    except tomllib.TOMLDecodeError as e:
        raise SystemExit(f"the ```{info} block is not TOML: {e}")
    if len(table) != 1 or not isinstance(next(iter(table.values())), dict):
        raise SystemExit(f"the ```{info} block must hold exactly one TOML table")
    name = next(iter(table))
    text = open(conf).read()
    text, n = re.subn(rf"(?ms)^\[{re.escape(name)}\]\n.*?(?=^\[|\Z)", lambda m: block + "\n", text, count=1)
    if n != 1:
        raise SystemExit(f"{conf}: no [{name}] table to replace")
    if tomllib.loads(text).get(name) != table[name]:
        raise SystemExit(f"{conf}: the edited [{name}] differs from the docs' block")
    open(conf, "w").write(text)


def main(argv):
    if len(argv) < 3:
        raise SystemExit(__doc__)
    doc, info = argv[0], argv[1]
    if argv[2] == "--toml-into":
        if len(argv) < 4:
            raise SystemExit(__doc__)
        toml_into(argv[3], fill(block_of(doc, info), info, argv[4:]), info)
    else:
        open(argv[2], "w").write(fill(block_of(doc, info), info, argv[3:]))


if __name__ == "__main__":
    main(sys.argv[1:])
