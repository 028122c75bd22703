#!/usr/bin/env python3
"""mkimplib.py - builds a PE import library from a .def file with
llvm-dlltool (x86-64). Used for badimport.sys's deliberately bogus import.

    mkimplib.py DEF OUTPUT.lib
"""
import subprocess
import sys


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    definition, output = sys.argv[1], sys.argv[2]
    return subprocess.call(["llvm-dlltool", "-m", "i386:x86-64", "-d", definition, "-l", output])


if __name__ == "__main__":
    sys.exit(main())
