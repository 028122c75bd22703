# main.py - the command line of ./keel: parses the command and its flags,
# makes sure the Debian packages are present, and dispatches to the module
# that implements the command.

import argparse
import sys

import bench
import ddk
import deps
import fuzz
import gnbuild
import images
import runner
import testing
from common import KeelError, log

COMMANDS = [
    ("setup", "install the Debian packages Keel needs (only the missing ones)"),
    ("build", "gn gen + ninja in out/default (or out/checked with --checked)"),
    ("run", "build, publish the DDK, build samples/hello, boot ntoskrnl + hello.sys in QEMU"),
    ("image", "compose a boot image (cpio) from a kernel, drivers and files"),
    ("ddk", "build and publish the DDK kit to out/ddk"),
    ("test", "run every check; ends with 'N passed, N failed'"),
    ("bench", "run the benchmarks and peers, JSON under out/bench/, print the ratios"),
    ("fuzz", "build and run one fuzzer over its working corpus (out/fuzz/NAME)"),
    ("help", "this list"),
]


def _help_text():
    lines = ["usage: ./keel COMMAND [options]   (./keel COMMAND --help for its options)", ""]
    lines += [f"  {name:<7} {text}" for name, text in COMMANDS]
    lines += [
        "",
        "A fresh Debian 12 machine needs only `./keel run` (boot the default image)",
        "and `./keel test` (every check). KEEL_OUT=DIR builds in DIR instead of out/default.",
    ]
    return "\n".join(lines)


def _parser():
    p = argparse.ArgumentParser(prog="keel", add_help=False)
    sub = p.add_subparsers(dest="command")
    helps = dict(COMMANDS)

    s = sub.add_parser("setup", help=helps["setup"])
    s.add_argument("--gdb", action="store_true", help="also install gdb")

    s = sub.add_parser("build", help=helps["build"])
    s.add_argument("--checked", action="store_true", help="the checked build (out/checked)")
    s.add_argument("--args", help="extra GN args, e.g. --args='symbol_level=0'")
    s.add_argument("--cc-wrapper", help="compiler wrapper, e.g. ccache")
    s.add_argument("targets", nargs="*", help="ninja targets (default: everything)")

    s = sub.add_parser("run", help=helps["run"])
    s.add_argument("--checked", action="store_true", help="boot the checked build")
    s.add_argument("--memory", "-m", default="256M", help="guest RAM (default 256M)")
    s.add_argument("--smp", type=int, default=1, help="processors, 1-64 (default 1)")
    s.add_argument("--cmdline", default="", help='kernel command line, e.g. "ktest" or "shutdown"')
    s.add_argument("--headless", action="store_true", help="no terminal input; use with --timeout")
    s.add_argument("--timeout", type=float, default=0, help="kill QEMU after SECONDS")
    s.add_argument("--gdb", action="store_true", help="QEMU waits for gdb on :1234 (-s -S)")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--kvm", action="store_true", help="require KVM")
    g.add_argument("--tcg", action="store_true", help="use TCG even when KVM works")
    s.add_argument("--image", help="boot this image instead of the default one")

    s = sub.add_parser("image", help=helps["image"])
    s.add_argument("-o", "--output", help="the image to write")
    s.add_argument("--kernel", help="ntoskrnl.exe (default: the one in out/default)")
    s.add_argument("--driver", action="append", default=[], help="a .sys (repeatable)")
    s.add_argument("--file", action="append", default=[], help="SRC=ARCHIVE/PATH (repeatable)")
    s.add_argument("--list", metavar="IMAGE", help="list an image's entries")
    s.add_argument("--checked", action="store_true")

    s = sub.add_parser("ddk", help=helps["ddk"])
    s.add_argument("--checked", action="store_true", help="publish from the checked build")

    sub.add_parser("test", help=helps["test"])

    s = sub.add_parser("bench", help=helps["bench"])
    s.add_argument(
        "--quick", action="store_true", help="smoke run: every benchmark once, briefly (TCG guests)"
    )
    s.add_argument("--host", action="store_true", help="only the host benchmark binaries")
    s.add_argument("--guest", action="store_true", help="only the QEMU guests (Keel and Linux)")
    s.add_argument("--accel", help="guest accelerators: tcg, kvm or tcg,kvm (default both; tcg with --quick)")
    s.add_argument("--plot", action="store_true", help="charts with gnuplot under out/bench/plots/")
    s.add_argument(
        "--repetitions", type=int, help="run each host benchmark N times and report the median"
    )
    s.add_argument("bench_args", nargs="*", help="Google Benchmark flags after --")

    s = sub.add_parser("fuzz", help=helps["fuzz"])
    s.add_argument("name", help="fuzzer name (e.g. pe_image)")
    s.add_argument("fuzzer_args", nargs="*", help="libFuzzer flags after --")
    s.add_argument("--checked", action="store_true")

    sub.add_parser("help", help=helps["help"])
    return p


HANDLERS = {
    "setup": deps.cmd_setup,
    "build": gnbuild.cmd_build,
    "run": runner.cmd_run,
    "image": images.cmd_image,
    "ddk": ddk.cmd_ddk,
    "test": testing.cmd_test,
    "bench": bench.cmd_bench,
    "fuzz": fuzz.cmd_fuzz,
}


def main(argv):
    if not argv or argv[0] in ("help", "-h", "--help"):
        print(_help_text())
        return 0
    if argv[0] not in HANDLERS:
        print(f"keel: unknown command {argv[0]!r}\n", file=sys.stderr)
        print(_help_text(), file=sys.stderr)
        return 2
    args = _parser().parse_args(argv)
    try:
        if args.command != "setup":
            deps.ensure()
        return HANDLERS[args.command](args)
    except KeelError as e:
        log(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
