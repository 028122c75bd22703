# common.py - paths, output directories and process helpers shared by every
# ./keel command.
#
# Output layout (all under the repository's out/):
#   out/default, out/checked   GN build directories (free / checked build)
#   out/ddk                    the published DDK kit
#   out/samples/hello          samples/hello built out of tree against the kit
#   out/images                 boot images composed by ./keel
#   out/bench, out/fuzz        benchmark JSON, fuzzing work corpora
# KEEL_OUT=DIR moves the build directory (and, below it, everything else) so
# experiments do not collide with out/default.

import os
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class KeelError(Exception):
    """A failure the user should see as one message, without a traceback."""


def log(message):
    print(f"keel: {message}", file=sys.stderr, flush=True)


def rel(path):
    """Path relative to the repository when inside it (shorter messages)."""
    try:
        r = os.path.relpath(path, ROOT)
    except ValueError:
        return path
    return path if r.startswith("..") else r


def build_dir(checked=False):
    override = os.environ.get("KEEL_OUT")
    if override:
        path = override if os.path.isabs(override) else os.path.join(ROOT, override)
        return path + ("-checked" if checked else "")
    return os.path.join(ROOT, "out", "checked" if checked else "default")


def aux_dir(*parts):
    """out/<parts> normally; <KEEL_OUT>/_keel/<parts> when KEEL_OUT is set."""
    override = os.environ.get("KEEL_OUT")
    if override:
        base = override if os.path.isabs(override) else os.path.join(ROOT, override)
        return os.path.join(base, "_keel", *parts)
    return os.path.join(ROOT, "out", *parts)


def quote(cmd):
    return " ".join(shlex.quote(str(c)) for c in cmd)


def run(cmd, check=True, quiet=False, **kwargs):
    """Runs a command with the repository as working directory by default."""
    kwargs.setdefault("cwd", ROOT)
    if not quiet:
        log(f"$ {quote(cmd)}")
    proc = subprocess.run([str(c) for c in cmd], **kwargs)
    if check and proc.returncode != 0:
        raise KeelError(f"command failed with status {proc.returncode}: {quote(cmd)}")
    return proc


def capture(cmd, timeout=None, cwd=ROOT, env=None, input_bytes=None):
    """Runs a command, returns (status, combined stdout+stderr text).
    A timeout returns status None with the output so far."""
    try:
        proc = subprocess.run(
            [str(c) for c in cmd],
            cwd=cwd,
            env=env,
            input=input_bytes,
            stdin=None if input_bytes is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
        return proc.returncode, proc.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        out = e.output.decode("utf-8", "replace") if e.output else ""
        return None, out
    except OSError as e:
        return 127, f"cannot run {cmd[0]}: {e}"


def tail(text, lines=20):
    parts = text.rstrip("\n").split("\n")
    return "\n".join(parts[-lines:])
