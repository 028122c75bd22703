#!/usr/bin/env python3
"""make_seeds.py - writes seed inputs for unwind_fuzzer from a real PE32+
image (Keel's ntoskrnl.exe): functions picked for the variety of their
unwind codes (pushes, small and large allocations, frame registers, saves,
machine frames, chained info, handlers), each with its UNWIND_INFO chain,
its code bytes and a caller, relocated into the fuzzer's input layout
(see unwind_fuzzer.c) together with a synthetic stack that unwinds through
the function into the caller.

  make_seeds.py --image ntoskrnl.exe --output DIR --stamp FILE

Python 3 standard library only.
"""

import argparse
import os
import struct
import sys

HEADER_SIZE = 24
SYNTH_HEADER_SIZE = 0x180
TAG_IMAGE = 0x4B45454C
TAG_STACK = 0x5354414B
MAX_CODE = 0x180

UWOP_PUSH_NONVOL, UWOP_ALLOC_LARGE, UWOP_ALLOC_SMALL, UWOP_SET_FPREG = 0, 1, 2, 3
UWOP_SAVE_NONVOL, UWOP_SAVE_NONVOL_FAR, UWOP_EPILOG, UWOP_SPARE = 4, 5, 6, 7
UWOP_SAVE_XMM128, UWOP_SAVE_XMM128_FAR, UWOP_PUSH_MACHFRAME = 8, 9, 10
UNW_FLAG_EHANDLER, UNW_FLAG_UHANDLER, UNW_FLAG_CHAININFO = 1, 2, 4


class Image:
    """The sections of a PE32+ file, read by RVA."""

    def __init__(self, data):
        self.data = data
        lfanew = struct.unpack_from("<I", data, 0x3C)[0]
        sections, optional_size = struct.unpack_from("<H12xH", data, lfanew + 6)
        optional = lfanew + 24
        self.pdata_rva, self.pdata_size = struct.unpack_from("<II", data, optional + 112 + 3 * 8)
        self.sections = []
        table = optional + optional_size
        for i in range(sections):
            vsize, va, raw_size, raw_ptr = struct.unpack_from("<IIII", data, table + i * 40 + 8)
            self.sections.append((va, max(vsize, raw_size), raw_ptr, raw_size))

    def read(self, rva, size):
        for va, vsize, raw_ptr, raw_size in self.sections:
            if va <= rva and rva + size <= va + vsize:
                offset = rva - va
                chunk = self.data[raw_ptr + offset : raw_ptr + min(raw_size, offset + size)]
                return chunk + bytes(size - len(chunk))
        raise ValueError("rva 0x%x outside the sections" % rva)

    def functions(self):
        for i in range(self.pdata_size // 12):
            yield struct.unpack("<III", self.read(self.pdata_rva + i * 12, 12))


def parse_info(image, rva):
    """(header bytes, codes [(offset, op, info)], raw code slots, flags, tail
    bytes, chained entry or None) of the UNWIND_INFO at rva."""
    head = image.read(rva, 4)
    version, flags = head[0] & 7, head[0] >> 3
    count = head[2]
    slots = image.read(rva + 4, ((count + 1) & ~1) * 2)
    tail_rva = rva + 4 + len(slots)
    codes = [(slots[i * 2], slots[i * 2 + 1] & 15, slots[i * 2 + 1] >> 4) for i in range(count)]
    chained = None
    tail = b""
    if flags & UNW_FLAG_CHAININFO:
        chained = struct.unpack("<III", image.read(tail_rva, 12))
    elif flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER):
        tail = image.read(tail_rva, 4 + 8)
    return head, slots, codes, version, flags, chained, tail


def frame_size(codes, version):
    """Bytes the prolog codes of one UNWIND_INFO allocate (pushes and
    allocations); with the codes' frame register use noted."""
    size = 0
    i = 0
    while i < len(codes):
        _, op, info = codes[i]
        step = 1
        if op == UWOP_PUSH_NONVOL:
            size += 8
        elif op == UWOP_ALLOC_SMALL:
            size += info * 8 + 8
        elif op == UWOP_ALLOC_LARGE:
            if info == 0:
                size += (codes[i + 1][0] | (codes[i + 1][1] | codes[i + 1][2] << 4) << 8) * 8
                step = 2
            else:
                lo = codes[i + 1][0] | (codes[i + 1][1] | codes[i + 1][2] << 4) << 8
                hi = codes[i + 2][0] | (codes[i + 2][1] | codes[i + 2][2] << 4) << 8
                size += lo | hi << 16
                step = 3
        elif op in (UWOP_SAVE_NONVOL, UWOP_SAVE_XMM128):
            step = 2
        elif op in (UWOP_SAVE_NONVOL_FAR, UWOP_SAVE_XMM128_FAR, UWOP_SPARE):
            step = 3
        elif op == UWOP_EPILOG:
            step = 1 if version == 2 else 2
        i += step
    return size


class Builder:
    """Lays out a synthesized-header image payload: .pdata first, then
    UNWIND_INFOs, then code. RVAs are image RVAs (payload + 0x180)."""

    def __init__(self, image, pdata_count):
        self.image = image
        self.payload = bytearray(pdata_count * 12)
        self.pdata = []

    def rva(self):
        return SYNTH_HEADER_SIZE + len(self.payload)

    def align(self, n):
        while len(self.payload) % n:
            self.payload.append(0xCC)

    def add_info(self, rva, depth=0):
        head, slots, codes, version, flags, chained, tail = parse_info(self.image, rva)
        self.align(4)
        new_rva = self.rva()
        self.payload += head + slots
        tail_at = len(self.payload)
        if chained is not None:
            self.payload += bytes(12)
            if depth < 4:
                target = self.add_info(chained[2], depth + 1)
                struct.pack_into("<III", self.payload, tail_at, 0, 0, target)
        elif tail:
            self.payload += tail  # handler RVA (fixed up to point at code) + data
        return new_rva, tail_at

    def add_function(self, begin, end, unwind):
        info_rva, tail_at = self.add_info(unwind)
        length = min(end - begin, MAX_CODE)
        self.align(16)
        code_rva = self.rva()
        self.payload += self.image.read(begin, length)
        head = parse_info(self.image, unwind)
        if head[5] is not None:
            # The chained entry names the primary's range: here, ours.
            target = struct.unpack_from("<I", self.payload, tail_at + 8)[0]
            struct.pack_into("<III", self.payload, tail_at, code_rva, code_rva + length, target)
        elif head[6]:
            struct.pack_into("<I", self.payload, tail_at, code_rva)
        self.pdata.append((code_rva, code_rva + length, info_rva))
        return code_rva, length

    def finish(self):
        for i, entry in enumerate(sorted(self.pdata)):
            struct.pack_into("<III", self.payload, i * 12, *entry)
        return bytes(self.payload)


def describe(image, unwind):
    """The features of a function's unwind data, for picking seeds."""
    head, _, codes, version, flags, chained, _ = parse_info(image, unwind)
    features = {"v%d" % version}
    features |= {"op%d" % op for _, op, _ in codes}
    if head[3] & 15:
        features.add("fpreg")
    if chained is not None:
        features.add("chained")
    if flags & (UNW_FLAG_EHANDLER | UNW_FLAG_UHANDLER):
        features.add("handler")
    return features, head[1], codes, version, head[3] & 15, head[3] >> 4


def make_seed(image, function, caller, pc_choice):
    begin, end, unwind = function
    features, prolog, codes, version, frame_reg, frame_off = describe(image, unwind)
    builder = Builder(image, 2)
    code_rva, length = builder.add_function(begin, end, unwind)
    caller_rva, caller_length = builder.add_function(*caller)
    caller_prolog = describe(image, caller[2])[1]
    payload = builder.finish()

    if pc_choice == "entry":
        pc = code_rva
    elif pc_choice == "prolog":
        pc = code_rva + max(prolog - 1, 0) if prolog else code_rva
    elif pc_choice == "end":
        pc = code_rva + length - 1
    else:
        pc = code_rva + min(prolog, length - 1)

    # The stack: RSP at slot 0, the function's frame, a return address into
    # the caller's body, the caller's frame, then the end (0).
    size = frame_size(codes, version)
    caller_size = frame_size(describe(image, caller[2])[2], 2)
    total = (size + caller_size) // 8 + 24
    if total > 512:
        raise ValueError("frame too large for a seed")
    slots = [((TAG_STACK << 32) | (i * 8 + 0x40)) for i in range(total)]
    regs = [0] * 16
    if "op10" in features:
        # A machine frame: RIP into the caller, RSP a few slots up.
        machine = size // 8
        has_code = any(op == UWOP_PUSH_MACHFRAME and info == 1 for _, op, info in codes)
        at = machine + (1 if has_code else 0)
        slots[at] = (TAG_IMAGE << 32) | (caller_rva + min(caller_prolog, caller_length - 1))
        slots[at + 1] = 0x10
        slots[at + 2] = 0x246
        slots[at + 3] = (TAG_STACK << 32) | ((at + 8) * 8)
        slots[at + 4] = 0x18
        ret_at = at + 8 + caller_size // 8
    else:
        ret_at = size // 8
        slots[ret_at] = (TAG_IMAGE << 32) | (caller_rva + min(caller_prolog, caller_length - 1) + 1)
        ret_at += 1 + caller_size // 8
    if ret_at < len(slots):
        slots[ret_at] = 0
    if frame_reg:
        # The frame register holds RSP at SET_FPREG + 16 * offset; the codes
        # before SET_FPREG in the array ran after it.
        before = []
        for c in codes:
            if c[1] == UWOP_SET_FPREG:
                break
            before.append(c)
        regs[frame_reg] = min((frame_size(before, version) + frame_off * 16) // 8, 255)
    stack = b"".join(struct.pack("<Q", s & 0xFFFFFFFFFFFFFFFF) for s in slots)

    header = struct.pack("<BBHHBB", 0, 2, pc, len(payload), 0, 0) + bytes(regs)
    assert len(header) == HEADER_SIZE
    return header + payload + stack


def code(offset, op, info=0):
    return bytes([offset, op | info << 4])


def info(version, flags, prolog, codes, frame_reg=0, frame_off=0):
    slots = b"".join(codes)
    count = len(slots) // 2
    if count % 2:
        slots += bytes(2)
    return bytes([version | flags << 3, prolog, count, frame_reg | frame_off << 4]) + slots


def synthetic_seeds():
    """Forms the compiler of ntoskrnl.exe does not emit: version 2 epilog
    descriptors, chained info, handlers, saves of nonvolatile and XMM
    registers, a frame register epilog (lea rsp), and a raw image."""
    seeds = []
    stack = b"".join(
        struct.pack("<Q", (TAG_STACK << 32) | (i * 8 + 0x40)) for i in range(40)
    )

    # Version 2: push rbx; push rsi; sub rsp, 0x28 ... add rsp, 0x28; pop rsi;
    # pop rbx; ret. One epilog at the end (size 3: the pops and ret... the
    # descriptor counts from the first pop).
    payload = bytearray(0x300)
    code_rva = SYNTH_HEADER_SIZE + 0x100
    body = bytes([0x53, 0x56, 0x48, 0x83, 0xEC, 0x28, 0x90, 0x90, 0x48, 0x83, 0xC4, 0x28,
                  0x5E, 0x5B, 0xC3])
    payload[0x100 : 0x100 + len(body)] = body
    unwind = info(2, 0, 6, [code(3, UWOP_EPILOG, 1), code(2, UWOP_EPILOG, 0),
                            code(6, UWOP_ALLOC_SMALL, 4), code(2, UWOP_PUSH_NONVOL, 6),
                            code(1, UWOP_PUSH_NONVOL, 3)])
    payload[0x40 : 0x40 + len(unwind)] = unwind
    struct.pack_into("<III", payload, 0, code_rva, code_rva + len(body), SYNTH_HEADER_SIZE + 0x40)
    for name, pc in (("v2_epilog", 12), ("v2_body", 7), ("v2_prolog", 1)):
        header = struct.pack("<BBHHBB", 0, 1, code_rva + pc, len(payload), 0, 0) + bytes(16)
        seeds.append(("synthetic_" + name, header + bytes(payload) + stack))

    # Chained: a fragment chaining to a primary with a handler; the primary
    # saves rbx and xmm6 and sets rbp as its frame register, and its
    # epilog is lea rsp, [rbp + 0x10]; pop rbp; ret.
    payload = bytearray(0x300)
    primary = info(1, UNW_FLAG_EHANDLER, 12,
                   [code(12, UWOP_SAVE_XMM128, 6), struct.pack("<H", 2),
                    code(8, UWOP_SAVE_NONVOL, 3), struct.pack("<H", 6),
                    code(5, UWOP_SET_FPREG), code(4, UWOP_ALLOC_SMALL, 7),
                    code(1, UWOP_PUSH_NONVOL, 5)], frame_reg=5, frame_off=1)
    primary += struct.pack("<I", code_rva + 0x80) + b"DATA"
    payload[0x40 : 0x40 + len(primary)] = primary
    fragment = info(1, UNW_FLAG_CHAININFO, 0, [])
    fragment += struct.pack("<III", code_rva, code_rva + 0x40, SYNTH_HEADER_SIZE + 0x40)
    payload[0x90 : 0x90 + len(fragment)] = fragment
    body = bytes([0x55, 0x48, 0x83, 0xEC, 0x40, 0x48, 0x8D, 0x6C, 0x24, 0x10]) + bytes([0x90] * 8)
    body += bytes([0x48, 0x8D, 0x65, 0x30, 0x5D, 0xC3])
    payload[0x100 : 0x100 + len(body)] = body
    payload[0x140 : 0x150] = bytes([0x90] * 15 + [0xC3])
    struct.pack_into("<III", payload, 0, code_rva, code_rva + 0x40, SYNTH_HEADER_SIZE + 0x40)
    struct.pack_into("<III", payload, 12, code_rva + 0x40, code_rva + 0x50, SYNTH_HEADER_SIZE + 0x90)
    regs = bytes([0, 0, 0, 0, 0, 10] + [0] * 10)
    for name, pc, flags in (("chained_body", 0x44, 0x4), ("primary_body", 0x20, 0x4),
                            ("primary_epilog", len(body) - 6, 0), ("primary_prolog", 5, 0xC)):
        header = struct.pack("<BBHHBB", flags, 2, code_rva + pc, len(payload), 0, 0) + regs
        seeds.append(("synthetic_" + name, header + bytes(payload) + stack))

    # A raw image: a PE header of its own (copied from the synthesized
    # layout's fields) in front of a small .pdata.
    raw = bytearray(0x200)
    raw[0:2] = b"MZ"
    struct.pack_into("<i", raw, 0x3C, 0x40)
    raw[0x40:0x44] = b"PE\0\0"
    struct.pack_into("<HH", raw, 0x44, 0x8664, 0)
    struct.pack_into("<H", raw, 0x54, 240)
    struct.pack_into("<H", raw, 0x58, 0x20B)
    struct.pack_into("<I", raw, 0x58 + 108, 16)
    struct.pack_into("<II", raw, 0x58 + 112 + 3 * 8, 0x180, 12)
    struct.pack_into("<III", raw, 0x180, 0x1C0, 0x1E0, 0x190)
    raw[0x190:0x198] = info(1, 0, 1, [code(1, UWOP_PUSH_NONVOL, 3)])
    raw[0x1C0:0x1C2] = bytes([0x53, 0x5B])
    raw[0x1C2] = 0xC3
    header = struct.pack("<BBHHBB", 1, 0, 0x1C1, len(raw), 0, 0) + bytes(16)
    seeds.append(("synthetic_raw_image", header + bytes(raw) + stack))
    return seeds


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--stamp", required=True)
    args = parser.parse_args(argv)

    image = Image(open(args.image, "rb").read())
    functions = list(image.functions())
    if len(functions) < 2:
        print("make_seeds.py: error: %s has no exception directory" % args.image, file=sys.stderr)
        return 1

    # For each combination of unwind features: its smallest and largest
    # frame; then the caller, a plain function with a small frame.
    groups = {}
    for function in functions:
        try:
            info = describe(image, function[2])
        except (ValueError, struct.error, IndexError):
            continue
        key = frozenset(info[0])
        groups.setdefault(key, []).append((frame_size(info[2], info[3]), function))
    picked = []
    for key in sorted(groups, key=sorted):
        members = sorted(groups[key])
        for _, function in (members[0], members[-1]):
            if function not in picked:
                picked.append(function)
    caller = next(
        f for f in functions if describe(image, f[2])[0] <= {"v1", "op0", "op2"} and f[1] - f[0] > 16
    )

    os.makedirs(args.output, exist_ok=True)
    for name in os.listdir(args.output):
        os.remove(os.path.join(args.output, name))
    count = 0
    for index, function in enumerate(picked):
        for choice in ("entry", "prolog", "body", "end"):
            try:
                seed = make_seed(image, function, caller, choice)
            except (ValueError, struct.error, IndexError):
                continue
            with open(os.path.join(args.output, "ntoskrnl_%02d_%s" % (index, choice)), "wb") as f:
                f.write(seed)
            count += 1
    for name, seed in synthetic_seeds():
        with open(os.path.join(args.output, name), "wb") as f:
            f.write(seed)
        count += 1
    with open(args.stamp, "w") as f:
        f.write("%d seeds\n" % count)
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
