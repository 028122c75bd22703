#!/usr/bin/env python3
"""mkimage.py - builds a Keel boot image: a cpio "newc" archive laid out like
a system root (System32/ntoskrnl.exe, System32/drivers/*.sys, any extra
files), which keelldr and the kernel read and standard tools can list.

  mkimage.py -o OUT.cpio [--kernel NTOSKRNL] [--driver X.sys]...
             [--file SRC=ARCHIVE/PATH]...
  mkimage.py --list IMAGE

The output is deterministic: entries sorted by path, mtime 0, uid/gid 0,
inodes numbered in order, so the same inputs give the same bytes.
Python 3 standard library only.
"""

import argparse
import os
import struct
import sys

NEWC_MAGIC = b"070701"
TRAILER = "TRAILER!!!"
MODE_DIR = 0o040755
MODE_FILE = 0o100644
S_IFMT = 0o170000
S_IFDIR = 0o040000
S_IFREG = 0o100000
BLOCK = 512


class ImageError(Exception):
    pass


def pe_kind(data):
    """Returns a description of what is wrong with a PE32+ x64 image, or
    None when the headers look right."""
    if len(data) < 64 or data[:2] != b"MZ":
        return "no MZ signature"
    (lfanew,) = struct.unpack_from("<i", data, 0x3C)
    if lfanew < 64 or lfanew + 24 + 2 > len(data):
        return "bad e_lfanew"
    if data[lfanew:lfanew + 4] != b"PE\0\0":
        return "no PE signature"
    (machine,) = struct.unpack_from("<H", data, lfanew + 4)
    if machine != 0x8664:
        return "not an x64 image (machine 0x%04x)" % machine
    (magic,) = struct.unpack_from("<H", data, lfanew + 24)
    if magic != 0x20B:
        return "not PE32+ (optional header magic 0x%03x)" % magic
    return None


def normalize(path):
    path = path.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    path = path.strip("/")
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise ImageError("bad archive path %r" % path)
    return "/".join(parts)


def newc_record(name, mode, ino, nlink, data):
    encoded = name.encode("utf-8") + b"\0"
    fields = (
        ino,        # c_ino
        mode,       # c_mode
        0,          # c_uid
        0,          # c_gid
        nlink,      # c_nlink
        0,          # c_mtime
        len(data),  # c_filesize
        0, 0,       # c_devmajor, c_devminor
        0, 0,       # c_rdevmajor, c_rdevminor
        len(encoded),
        0,          # c_check
    )
    header = NEWC_MAGIC + b"".join(b"%08X" % f for f in fields)
    record = header + encoded
    record += b"\0" * (-len(record) % 4)
    record += data
    record += b"\0" * (-len(record) % 4)
    return record


def build(entries):
    """entries: dict archive path -> bytes (files). Directories are added for
    every parent, plus System32/ and System32/drivers/."""
    dirs = {"System32", "System32/drivers"}
    for path in entries:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            dirs.add("/".join(parts[:i]))
    collisions = dirs.intersection(entries)
    if collisions:
        raise ImageError("%s is both a file and a directory" % sorted(collisions)[0])
    names = sorted(set(entries) | dirs)
    out = bytearray()
    for ino, name in enumerate(names, start=1):
        if name in dirs:
            out += newc_record(name, MODE_DIR, ino, 2, b"")
        else:
            out += newc_record(name, MODE_FILE, ino, 1, entries[name])
    out += newc_record(TRAILER, 0, 0, 1, b"")
    out += b"\0" * (-len(out) % BLOCK)
    return bytes(out)


def parse(data):
    """Yields (name, mode, size) of every record; raises ImageError on a
    malformed archive."""
    offset = 0
    while True:
        if offset + 110 > len(data):
            raise ImageError("truncated header at offset %d" % offset)
        header = data[offset:offset + 110]
        if header[:6] not in (b"070701", b"070702"):
            raise ImageError("bad magic at offset %d" % offset)
        try:
            fields = [int(header[6 + 8 * i:14 + 8 * i], 16) for i in range(13)]
        except ValueError:
            raise ImageError("bad header field at offset %d" % offset)
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_end = offset + 110 + namesize
        if namesize == 0 or name_end > len(data) or data[name_end - 1] != 0:
            raise ImageError("bad name at offset %d" % offset)
        name = data[offset + 110:name_end - 1].decode("utf-8", "replace")
        data_start = (name_end + 3) & ~3
        if data_start + size > len(data):
            raise ImageError("truncated data of %s" % name)
        if name == TRAILER:
            return
        yield name, mode, size
        offset = (data_start + size + 3) & ~3


def list_image(path):
    with open(path, "rb") as f:
        data = f.read()
    total = 0
    for name, mode, size in parse(data):
        kind = "d" if (mode & S_IFMT) == S_IFDIR else "-" if (mode & S_IFMT) == S_IFREG else "?"
        print("%s %06o %10d %s" % (kind, mode, size, name))
        total += 1
    print("%d entries, %d bytes" % (total, len(data)))


def read_file(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ImageError("cannot read %s: %s" % (path, e.strerror))


def main(argv):
    parser = argparse.ArgumentParser(
        description="Build a Keel boot image (cpio newc archive laid out like a system root).")
    parser.add_argument("-o", "--output", help="image to write")
    parser.add_argument("--kernel", help="ntoskrnl.exe (PE32+) -> System32/ntoskrnl.exe")
    parser.add_argument("--driver", action="append", default=[],
                        help="driver image -> System32/drivers/<name> (repeatable)")
    parser.add_argument("--file", action="append", default=[], metavar="SRC=ARCHIVE/PATH",
                        help="any file at an archive path (repeatable)")
    parser.add_argument("--list", metavar="IMAGE", help="list the entries of an image")
    parser.add_argument("--depfile", help="write a Makefile-style depfile for OUTPUT")
    args = parser.parse_args(argv)

    try:
        if args.list:
            list_image(args.list)
            return 0
        if not args.output:
            parser.error("-o OUTPUT is required (or --list IMAGE)")

        entries = {}
        inputs = []

        def add(archive_path, source):
            archive_path = normalize(archive_path)
            if archive_path in entries:
                raise ImageError("%s given twice" % archive_path)
            entries[archive_path] = read_file(source)
            inputs.append(source)
            return entries[archive_path]

        if args.kernel:
            defect = pe_kind(add("System32/ntoskrnl.exe", args.kernel))
            if defect:
                raise ImageError("kernel %s is not a PE32+ x64 image: %s" % (args.kernel, defect))
        # Drivers are copied as they are: images of broken drivers are how
        # the kernel's rejection of them gets tested.
        for driver in args.driver:
            add("System32/drivers/" + os.path.basename(driver), driver)
        for spec in args.file:
            source, sep, archive_path = spec.partition("=")
            if not sep or not source or not archive_path:
                raise ImageError("--file wants SRC=ARCHIVE/PATH, got %r" % spec)
            add(archive_path, source)

        image = build(entries)
        tmp = args.output + ".tmp"
        with open(tmp, "wb") as f:
            f.write(image)
        os.replace(tmp, args.output)
        if args.depfile:
            with open(args.depfile, "w") as f:
                f.write("%s: %s\n" % (args.output.replace(" ", "\\ "),
                                      " ".join(i.replace(" ", "\\ ") for i in inputs)))
        return 0
    except ImageError as e:
        print("mkimage.py: error: %s" % e, file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
