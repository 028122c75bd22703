# gnbuild.py - `keel build`: gn gen (only when needed) and ninja in the
# free (out/default) or checked (out/checked) build directory, exporting
# compile_commands.json for clangd.

import os
import subprocess

from common import KeelError, ROOT, build_dir, log, quote, rel, run

# Paths (relative to the build directory) of what other commands consume.
NTOSKRNL = "kernel/ntoskrnl.exe"
NTOSKRNL_LIB = "kernel/ntoskrnl.lib"
LOADER = "loader/keelldr"
KTEST_HOSTED = "host_asan/ktest_hosted"
TEST_DRIVERS = ["kernel/okdrv.sys", "kernel/badimport.sys", "kernel/crashdrv.sys"]


def _args_text(checked, extra_args, cc_wrapper):
    lines = ["# Written by ./keel build; extra args come from --args / --cc-wrapper."]
    lines.append(f"is_checked = {'true' if checked else 'false'}")
    if cc_wrapper:
        lines.append(f'cc_wrapper = "{cc_wrapper}"')
    if extra_args:
        lines.append(extra_args)
    return "\n".join(lines) + "\n"


def gen(out, checked=False, extra_args=None, cc_wrapper=None, force=False):
    """Runs gn gen when the directory has no build.ninja yet or when the
    arguments change. Otherwise ninja regenerates by itself as .gn files
    change, so a no-op build stays a single ninja call."""
    args_path = os.path.join(out, "args.gn")
    wanted = None
    if extra_args is not None or cc_wrapper is not None or not os.path.exists(args_path):
        wanted = _args_text(checked, extra_args, cc_wrapper)
    need = force or not os.path.exists(os.path.join(out, "build.ninja"))
    if wanted is not None:
        current = open(args_path).read() if os.path.exists(args_path) else None
        if current != wanted:
            os.makedirs(out, exist_ok=True)
            with open(args_path, "w") as f:
                f.write(wanted)
            need = True
    if need:
        run(["gn", "gen", "--export-compile-commands", rel(out)])


def ninja(out, targets=(), keep_going=False, check=True):
    cmd = ["ninja", "-C", rel(out)]
    if keep_going:
        cmd += ["-k", "0"]
    cmd += list(targets)
    proc = run(cmd, check=False)
    if check and proc.returncode != 0:
        raise KeelError(f"build failed: {quote(cmd)}")
    return proc.returncode == 0


def up_to_date(out, target):
    """True when ninja has nothing to do for target (it exists and is current)."""
    proc = subprocess.run(
        ["ninja", "-C", out, "-n", target],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    return proc.returncode == 0 and "no work to do" in proc.stdout


def build(checked=False, extra_args=None, cc_wrapper=None, targets=()):
    out = build_dir(checked)
    gen(out, checked, extra_args, cc_wrapper)
    ninja(out, targets)
    return out


def artifact(out, path, what=None):
    full = os.path.join(out, path)
    if not os.path.exists(full):
        raise KeelError(f"{what or path} not built: {rel(full)} does not exist")
    return full


def cmd_build(args):
    out = build(args.checked, args.args, args.cc_wrapper, args.targets)
    log(f"built {rel(out)} (compile_commands.json in {rel(out)})")
    return 0
