# runner.py - `keel run`: build, publish the DDK kit, build samples/hello
# out of tree against it, compose the default image (ntoskrnl + hello.sys)
# and boot it in QEMU with the serial console on the terminal. The exit
# status is the guest's isa-debug-exit code (0x10 -> 0).

import os

import ddk
import images
import qemu
from common import KeelError, aux_dir, log, rel
from gnbuild import LOADER, NTOSKRNL, artifact, build


def _gdb_help(out):
    kernel = rel(os.path.join(out, NTOSKRNL))
    log("QEMU is stopped at reset, waiting for gdb on localhost:1234. In another terminal:")
    log(
        f"  gdb {kernel} -ex 'target remote :1234' -ex 'hbreak KiSystemStartup' -ex continue"
    )
    log("ntoskrnl.exe runs at its preferred base, so its DWARF symbols need no offset;")
    log("use hbreak (hardware) until the kernel is mapped. For a driver, take the base")
    log("from 'io: loaded X.sys at 0xBASE' and its linked ImageBase (llvm-objdump -p):")
    log("  (gdb) add-symbol-file X.sys -o 0xBASE-0xIMAGEBASE")


def cmd_run(args):
    if not 1 <= args.smp <= 64:
        raise KeelError(f"--smp {args.smp}: the kernel supports 1 to 64 processors")
    out = build(args.checked)
    loader = artifact(out, LOADER, "the boot loader")
    if args.image:
        image = os.path.abspath(args.image)
        if not os.path.exists(image):
            raise KeelError(f"--image {args.image}: no such file")
    else:
        kernel = artifact(out, NTOSKRNL, "ntoskrnl.exe")
        kit = ddk.publish(out)
        hello = ddk.hello_sys(out, kit)
        image = images.compose(aux_dir("images", "default.cpio"), kernel, [hello])
    accel = qemu.choose_accel(kvm=args.kvm, tcg=args.tcg)
    cmd = qemu.command(loader, image, args.cmdline, args.memory, args.smp, accel, args.gdb)
    ends = f"timeout {args.timeout:g} s" if args.timeout else "Ctrl-C quits"
    log(f"booting {rel(image)} ({accel.upper()}); {ends}")
    if args.gdb:
        _gdb_help(out)
    if args.headless:
        status, _, seconds = qemu.run_headless(cmd, args.timeout or None, echo=True)
    else:
        status = qemu.run_interactive(cmd, args.timeout or None)
    log(f"QEMU: {qemu.describe_status(status)}")
    return qemu.guest_exit_status(status)
