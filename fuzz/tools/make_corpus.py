#!/usr/bin/env python3
"""make_corpus.py - (re)builds a fuzzer's seed corpus directory from seed
files and directories (committed seeds, images built by the build).

  make_corpus.py --output DIR --stamp FILE [--depfile FILE] SOURCE...

Each SOURCE file is copied under its base name; each SOURCE directory
contributes its regular files. The directory holds exactly these seeds
afterwards (stale ones are removed), so a regression run over it is
reproducible. The depfile names every seed file and seed directory read,
so ninja rebuilds the corpus when a committed seed is edited, added or
removed. Python 3 standard library only.
"""

import argparse
import os
import shutil
import sys


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--output", required=True)
    parser.add_argument("--stamp", required=True)
    parser.add_argument("--depfile")
    parser.add_argument("sources", nargs="*")
    args = parser.parse_args(argv)

    seeds = {}
    read = []
    for source in args.sources:
        if os.path.isdir(source):
            read.append(source)
            for name in sorted(os.listdir(source)):
                path = os.path.join(source, name)
                if os.path.isfile(path):
                    seeds.setdefault(name, path)
        elif os.path.isfile(source):
            seeds.setdefault(os.path.basename(source), source)
        else:
            print("make_corpus.py: error: no such seed %s" % source, file=sys.stderr)
            return 1

    os.makedirs(args.output, exist_ok=True)
    for name in os.listdir(args.output):
        if name not in seeds:
            path = os.path.join(args.output, name)
            if os.path.isfile(path):
                os.remove(path)
    for name, path in seeds.items():
        shutil.copyfile(path, os.path.join(args.output, name))
    with open(args.stamp, "w") as f:
        f.write("%d seeds\n" % len(seeds))
    if args.depfile:
        read += sorted(seeds.values())
        with open(args.depfile, "w") as f:
            f.write("%s: %s\n" % (args.stamp, " ".join(p.replace(" ", "\\ ") for p in read)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
