#!/usr/bin/env python3
"""Check that every public name of the execo API spec is documented.

Usage: python docs/check_coverage.py [--spec SPEC] [--no-members] HTML_BUILD_DIR

The spec is the text rendering of the execo API documentation, kept in
the repository as ``docs/spec/execo-api.txt`` (the default). Where the
development setup also has the original, ``../shared/spec/execo-api.txt``
next to the repository, the two must be identical: a differing copy is
reported and counts as a failure. Its definition lines start
with a dotted name::

    class execo.process.Process(cmd, shell=False, ...)
    execo.process.get_process(*args, **kwargs)
    execo.config.configuration = {...}
    execo.log.logger

and, after a ``class`` line, the class members are listed as lines such as
``cmd = None``, ``expect(regexes, ...)``, ``ok`` or ``static empty_stats()``.
Each dotted name (and, unless --no-members, each ``Class.member``) must be
an object of the ``py`` domain in the ``objects.inv`` of the HTML build.
The inventory is read offline with :mod:`sphinx.util.inventory`.

Exit status: 0 if nothing is missing, 1 otherwise (the missing names are
listed), 2 on usage errors.
"""

import argparse
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_SPEC = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "spec", "execo-api.txt"))
DEFAULT_SPEC = os.path.join(HERE, "spec", "execo-api.txt")


def stale_copy():
    """The reason the repository's copy of the spec differs from the
    development setup's original, or None (same, or no original)."""
    if not os.path.isfile(SHARED_SPEC):
        return None
    with open(SHARED_SPEC, "rb") as a, open(DEFAULT_SPEC, "rb") as b:
        if a.read() == b.read():
            return None
    return "%s differs from %s: copy it into the repository" % (DEFAULT_SPEC, SHARED_SPEC)


# a definition line: optional "class ", a dotted execo name, then "(", " = " or end of line
DEF_RE = re.compile(r"^(class |exception )?(execo(?:\.[A-Za-z_][A-Za-z0-9_]*){2,})(\(.*\)|\s=\s.*)?\s*$")
# a member line inside a class: optional "static ", a name, then "(...)", " = ..." or nothing
MEMBER_RE = re.compile(r"^(?:static |classmethod |property )?([a-z_][A-Za-z0-9_]*)(\(.*\)| = None)?\s*$")


def parse_spec(path):
    """Return (names, members): the dotted names defined in the spec, and
    the ``module.Class.member`` names of the members of its classes."""
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f]
    names, members = [], []
    current_class = None

    def next_nonblank(i):
        for line in lines[i + 1 :]:
            if line.strip():
                return line
        return ""

    for i, line in enumerate(lines):
        m = DEF_RE.match(line)
        if m:
            # prose sentences starting with a dotted name ("execo.action.Remote, ...")
            # do not match: a definition line is the name alone, a call or an assignment
            name = m.group(2)
            if name not in names:
                names.append(name)
            current_class = name if m.group(1) else None
            continue
        if current_class is None:
            continue
        m = MEMBER_RE.match(line)
        if not m:
            continue
        following = next_nonblank(i)
        if following.startswith(("execo.", "class execo.", "Inheritance diagram")):
            continue  # a section heading, not a member
        member = current_class + "." + m.group(1)
        if member not in members:
            members.append(member)
    return names, members


def load_inventory(build_dir):
    from sphinx.util.inventory import InventoryFile

    path = os.path.join(build_dir, "objects.inv")
    with open(path, "rb") as f:
        inv = InventoryFile.load(f, "", os.path.join)
    documented = set()
    for objtype, objects in inv.items():
        if objtype.startswith("py:"):
            documented.update(objects)
    return documented


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir", help="the HTML build directory (holding objects.inv)")
    parser.add_argument("--spec", default=DEFAULT_SPEC, help="the API spec (default: %(default)s)")
    parser.add_argument("--no-members", action="store_true", help="check only the dotted names, not the class members")
    parser.add_argument("-v", "--verbose", action="store_true", help="list every checked name")
    args = parser.parse_args(argv)
    if not os.path.isfile(args.spec):
        parser.error("spec not found: %s" % args.spec)
    if not os.path.isfile(os.path.join(args.build_dir, "objects.inv")):
        parser.error("no objects.inv in %s (build the html first)" % args.build_dir)

    names, members = parse_spec(args.spec)
    if not names:
        parser.error("no definition found in the spec %s" % args.spec)
    wanted = names + ([] if args.no_members else members)
    documented = load_inventory(args.build_dir)
    missing = [n for n in wanted if n not in documented]
    if args.verbose:
        for n in wanted:
            print("%s %s" % ("MISSING" if n in missing else "ok     ", n))
    print(
        "%s: %d names, %d members checked against %s: %d missing"
        % (
            args.spec,
            len(names),
            0 if args.no_members else len(members),
            os.path.join(args.build_dir, "objects.inv"),
            len(missing),
        )
    )
    for n in missing:
        print("missing: %s" % n)
    stale = stale_copy()
    if stale:
        print("stale: " + stale)
    return 1 if missing or stale else 0


if __name__ == "__main__":
    sys.exit(main())
