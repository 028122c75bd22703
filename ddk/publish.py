#!/usr/bin/env python3
"""publish.py - publishes the Keel Driver Development Kit.

    ddk/publish.py --build-dir out/<dir> --output out/ddk

writes OUTPUT/keel-ddk-<version>/ and OUTPUT/keel-ddk-<version>.tar.gz:

    include/                 the DDK headers (ddk/include)
    lib/x64/ntoskrnl.lib     the import library from the build directory
    build/                   GN files for an out-of-tree driver root (ddk/kit/build
                             plus the shared kernel-mode flags and PE toolchain)
    README.md
    manifest.json            name, version, flavor, revision, every file's sha256

The version lives in ddk/VERSION. The kit is self-contained: nothing in it
refers to the Keel repository, which is checked before publishing.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

DDK = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DDK)
NAME = "keel-ddk"

# (source relative to the repository, destination relative to the kit)
SHARED_FILES = [
    ("build/config/kernel_mode.gni", "build/kernel_mode.gni"),
    ("build/toolchain/pe_toolchain.gni", "build/pe_toolchain.gni"),
]


def fail(message):
    sys.stderr.write(f"publish.py: {message}\n")
    sys.exit(1)


def read_version():
    version = open(os.path.join(DDK, "VERSION")).read().strip()
    if not re.fullmatch(r"\d+\.\d+\.\d+([-.][0-9A-Za-z.]+)?", version):
        fail(f"ddk/VERSION holds {version!r}, not a version number")
    return version


def build_flavor(build_dir):
    """'checked' when the build directory was generated with is_checked=true."""
    args = os.path.join(build_dir, "args.gn")
    if os.path.exists(args):
        for line in open(args):
            line = line.split("#", 1)[0]
            if re.fullmatch(r"\s*is_checked\s*=\s*true\s*", line):
                return "checked"
    return "free"


def git_revision():
    """The source revision, with '-dirty' when the tree has local changes;
    None outside a git checkout."""
    try:
        rev = subprocess.run(
            ["git", "-C", ROOT, "rev-parse", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return rev + ("-dirty" if dirty else "")


def copy(source, destination):
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    shutil.copyfile(source, destination)


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def kit_files(kit):
    """Every file under kit, as sorted kit-relative POSIX paths."""
    result = []
    for directory, dirs, names in os.walk(kit):
        dirs.sort()
        for name in names:
            result.append(os.path.relpath(os.path.join(directory, name), kit).replace(os.sep, "/"))
    return sorted(result)


def check_self_contained(kit):
    """No text file may point back into the repository."""
    needles = [
        ROOT.encode(),
        b"//build/config/",
        b"//build/toolchain/",
        b"//build/templates/",
        b"//ddk/",
        b"//kernel/",
    ]
    for path in kit_files(kit):
        if path.endswith(".lib"):
            continue
        data = open(os.path.join(kit, path), "rb").read()
        for needle in needles:
            if needle in data:
                fail(f"{path} refers to the Keel repository ({needle.decode()!r})")


def write_tarball(kit, tarball):
    """A reproducible .tar.gz: sorted entries, zero times and owners."""
    top = os.path.basename(kit)

    def entry(name, kind, size=0):
        info = tarfile.TarInfo(name)
        info.type = kind
        info.size = size
        info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
        info.mtime = 0
        return info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        added = set()
        for path in kit_files(kit):
            parts = [top] + path.split("/")
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory not in added:
                    added.add(directory)
                    tar.addfile(entry(directory, tarfile.DIRTYPE))
            data = open(os.path.join(kit, path), "rb").read()
            tar.addfile(entry("/".join(parts), tarfile.REGTYPE, len(data)), io.BytesIO(data))
    with open(tarball, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            gz.write(buffer.getvalue())


def main():
    parser = argparse.ArgumentParser(description="Publish the Keel DDK kit.")
    parser.add_argument("--build-dir", required=True, help="GN build directory (out/<dir>)")
    parser.add_argument("--output", required=True, help="where to write the kit (out/ddk)")
    args = parser.parse_args()

    build_dir = os.path.abspath(args.build_dir)
    implib = os.path.join(build_dir, "kernel", "ntoskrnl.lib")
    if not os.path.isfile(implib):
        fail(f"{implib} does not exist: build //kernel:ntoskrnl first")

    version = read_version()
    output = os.path.abspath(args.output)
    kit = os.path.join(output, f"{NAME}-{version}")
    tarball = kit + ".tar.gz"
    if os.path.exists(kit):
        shutil.rmtree(kit)
    os.makedirs(kit)

    include = os.path.join(DDK, "include")
    for name in sorted(os.listdir(include)):
        if name.endswith(".h"):
            copy(os.path.join(include, name), os.path.join(kit, "include", name))
    copy(implib, os.path.join(kit, "lib", "x64", "ntoskrnl.lib"))
    template = os.path.join(DDK, "kit")
    for path in kit_files(template):
        copy(os.path.join(template, path), os.path.join(kit, path))
    for source, destination in SHARED_FILES:
        copy(os.path.join(ROOT, source), os.path.join(kit, destination))

    check_self_contained(kit)

    manifest = {
        "name": NAME,
        "version": version,
        "flavor": build_flavor(build_dir),
        "architecture": "x64",
        "revision": git_revision(),
        "files": {
            path: {"sha256": sha256(os.path.join(kit, path)),
                   "size": os.path.getsize(os.path.join(kit, path))}
            for path in kit_files(kit)
        },
    }
    with open(os.path.join(kit, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")

    write_tarball(kit, tarball)
    print(f"published {kit}")
    print(f"tarball   {tarball}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
