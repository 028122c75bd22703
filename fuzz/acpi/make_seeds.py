#!/usr/bin/env python3
"""Writes the ACPI fuzzer's seeds: physical memory images with an RSDP at
address 16, a root table (XSDT for revision 2, RSDT for revision 0) and a
MADT listing processors, every checksum correct. Run once; the outputs are
committed under seeds/."""
import os
import struct


RSDP_AT = 16  # address 0 means "no RSDP"


def checksum_fix(table, offset):
    table[offset] = (-sum(table) + table[offset]) & 0xFF


def sdt(signature, body):
    header = bytearray(struct.pack("<4sIBB6s8sI4sI", signature, 36 + len(body), 1, 0,
                                   b"KEEL  ", b"KEELFUZZ", 1, b"KEEL", 1))
    table = header + body
    checksum_fix(table, 9)
    return table


def madt(apic_ids):
    body = struct.pack("<II", 0xFEE00000, 1)
    for uid, apic in enumerate(apic_ids):
        body += struct.pack("<BBBBI", 0, 8, uid, apic, 1)  # processor local APIC, enabled
    return sdt(b"APIC", body)


def image(revision, apic_ids):
    rsdp_size = 36 if revision >= 2 else 20
    root_at = 64
    madt_table = madt(apic_ids)
    if revision >= 2:
        madt_at = root_at + 36 + 8
        root = sdt(b"XSDT", struct.pack("<Q", madt_at))
    else:
        madt_at = root_at + 36 + 4
        root = sdt(b"RSDT", struct.pack("<I", madt_at))
    rsdp = bytearray(struct.pack("<8sB6sBI", b"RSD PTR ", 0, b"KEEL  ", revision,
                                 root_at if revision < 2 else 0))
    if revision >= 2:
        rsdp += struct.pack("<IQB3s", rsdp_size, root_at, 0, b"\0\0\0")
    rsdp[8] = (-sum(rsdp[:20]) + rsdp[8]) & 0xFF  # the first 20 bytes sum to 0
    if revision >= 2:
        rsdp[32] = (-sum(rsdp[:36]) + rsdp[32]) & 0xFF  # extended checksum
    memory = bytearray(madt_at + len(madt_table))
    memory[RSDP_AT:RSDP_AT + len(rsdp)] = rsdp
    memory[root_at:root_at + len(root)] = root
    memory[madt_at:madt_at + len(madt_table)] = madt_table
    return bytes(memory)


here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")
os.makedirs(here, exist_ok=True)
for name, data in (("xsdt_4cpu", image(2, [0, 1, 2, 3])), ("rsdt_2cpu", image(0, [0, 1]))):
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
