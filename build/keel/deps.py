# deps.py - `keel setup`: the Debian packages the project needs, installed
# only when missing. Every other command runs the same check first; when
# nothing is missing it costs one dpkg-query call.

import os
import shutil
import subprocess

from common import KeelError, log

# Everything a fresh Debian 12 machine needs to build, boot and test Keel.
REQUIRED = [
    "generate-ninja",  # gn
    "ninja-build",
    "clang",
    "lld",
    "llvm",  # llvm-ar, llvm-objdump, llvm-dlltool
    "qemu-system-x86",
    "libbenchmark-dev",
    "libclang-rt-14-dev",  # ASan/UBSan/libFuzzer runtimes
    "clang-format",
    "cpio",
    "python3",
    # Benchmark peers (bench/, `keel bench`): allocators, plots, Linux guest.
    "libjemalloc-dev",
    "libmimalloc-dev",
    "libgoogle-perftools-dev",  # tcmalloc
    "gnuplot-nox",
    "linux-image-amd64",
    "busybox-static",
]

# Installed by `keel setup --gdb` (kernel debugging only).
OPTIONAL = ["gdb"]


def missing_packages(packages):
    """The subset of packages dpkg does not report as installed."""
    if shutil.which("dpkg-query") is None:
        return None  # not a Debian system: nothing we can check
    proc = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${db:Status-Abbrev}\n"] + packages,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    installed = set()
    for line in proc.stdout.splitlines():
        fields = line.split()
        # "ii " = desired install, currently installed.
        if len(fields) >= 2 and fields[1].startswith("ii"):
            installed.add(fields[0].split(":")[0])
    return [p for p in packages if p not in installed]


def _install(packages):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    prefix = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            raise KeelError(
                "missing packages " + " ".join(packages) + " and not root (no sudo to install them)"
            )
        prefix = ["sudo", "-E"]
    log("installing " + " ".join(packages))
    # apt-get update once, only because something is missing.
    subprocess.run(prefix + ["apt-get", "update", "-q"], env=env, check=True)
    subprocess.run(
        prefix
        + [
            "apt-get",
            "install",
            "-y",
            "-q",
            "--no-install-recommends",
            "-o",
            "Dpkg::Options::=--force-confold",
        ]
        + packages,
        env=env,
        check=True,
    )


def ensure(with_optional=False, verbose=False):
    packages = REQUIRED + (OPTIONAL if with_optional else [])
    missing = missing_packages(packages)
    if missing is None:
        if verbose:
            log("dpkg-query not found: not a Debian system, install the tools yourself:")
            log("  " + " ".join(packages))
        return
    if not missing:
        if verbose:
            log("all packages present: " + " ".join(packages))
        return
    try:
        _install(missing)
    except subprocess.CalledProcessError as e:
        raise KeelError(f"package installation failed: {e}")
    still = missing_packages(missing)
    if still:
        raise KeelError("packages still missing after apt-get install: " + " ".join(still))


def cmd_setup(args):
    ensure(with_optional=args.gdb, verbose=True)
    return 0
