# ddk.py - `keel ddk`: publish the Driver Development Kit (ddk/publish.py)
# and build drivers out of tree against it (samples/hello), skipping both
# when nothing changed so `keel run` stays fast.

import glob
import hashlib
import json
import os
import sys

from common import KeelError, ROOT, aux_dir, capture, log, rel
from gnbuild import NTOSKRNL_LIB, artifact, build

PUBLISH = os.path.join(ROOT, "ddk", "publish.py")
HELLO = os.path.join(ROOT, "samples", "hello")


def _tree_fingerprint(paths):
    """Hash of names, sizes and mtimes of every file under paths."""
    h = hashlib.sha256()
    for top in paths:
        if os.path.isfile(top):
            files = [top]
        else:
            files = []
            for d, dirs, names in os.walk(top):
                dirs[:] = sorted(x for x in dirs if x not in ("__pycache__", ".git"))
                files += [os.path.join(d, n) for n in sorted(names)]
        for f in files:
            st = os.stat(f)
            h.update(f"{f}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def kit_dir(output):
    """The published kit directory: keel-ddk-<version> under output."""
    version_file = os.path.join(ROOT, "ddk", "VERSION")
    if os.path.exists(version_file):
        version = open(version_file).read().strip()
        path = os.path.join(output, f"keel-ddk-{version}")
        if os.path.isdir(path):
            return path
    kits = [p for p in glob.glob(os.path.join(output, "keel-ddk-*")) if os.path.isdir(p)]
    if not kits:
        raise KeelError(f"no keel-ddk-* directory under {rel(output)} after publishing")
    return max(kits, key=os.path.getmtime)


def publish(out, output=None, force=False):
    """Runs ddk/publish.py unless its inputs are unchanged since the last
    run. Returns the kit directory."""
    if not os.path.exists(PUBLISH):
        raise KeelError("ddk/publish.py does not exist yet")
    output = output or aux_dir("ddk")
    artifact(out, NTOSKRNL_LIB, "ntoskrnl.lib")
    stamp = os.path.join(output, ".keel-publish-stamp")
    fingerprint = _tree_fingerprint(
        [
            os.path.join(ROOT, "ddk"),
            os.path.join(ROOT, "build", "config"),
            os.path.join(ROOT, "build", "toolchain"),
            os.path.join(ROOT, "build", "templates"),
            os.path.join(out, NTOSKRNL_LIB),
        ]
    )
    if not force and os.path.exists(stamp) and open(stamp).read() == fingerprint:
        try:
            return kit_dir(output)
        except KeelError:
            pass
    status, text = capture(
        [sys.executable, PUBLISH, "--build-dir", out, "--output", output], timeout=300
    )
    if status != 0:
        raise KeelError(f"ddk/publish.py failed (status {status}):\n{text}")
    kit = kit_dir(output)
    with open(stamp, "w") as f:
        f.write(fingerprint)
    return kit


def build_out_of_tree(source_root, out, kit, quiet=False):
    """gn gen (when needed) + ninja for a driver root that consumes only
    the kit. Returns (ok, output text)."""
    args = f'keel_ddk="{os.path.abspath(kit)}"'
    args_file = os.path.join(out, "args.gn")
    text = ""
    if not (
        os.path.exists(os.path.join(out, "build.ninja"))
        and os.path.exists(args_file)
        and open(args_file).read().strip() == args
    ):
        os.makedirs(out, exist_ok=True)
        status, text = capture(["gn", "gen", out, f"--root={source_root}", f"--args={args}"])
        if status != 0:
            return False, text
    status, more = capture(["ninja", "-C", out])
    return status == 0, text + more


def hello_sys(out, kit):
    """samples/hello built against the kit under out/samples/hello."""
    hello_out = aux_dir("samples", "hello")
    ok, text = build_out_of_tree(HELLO, hello_out, kit)
    if not ok:
        raise KeelError(f"samples/hello failed to build against {rel(kit)}:\n{text}")
    path = os.path.join(hello_out, "hello.sys")
    if not os.path.exists(path):
        raise KeelError(f"samples/hello built but {rel(path)} is missing")
    return path


def manifest_files(manifest):
    """{relative path: sha256} from manifest.json, accepting either a
    {"files": {path: digest}} map or a [{"path", "sha256"}] list."""
    files = manifest.get("files")
    if isinstance(files, dict):
        result = {}
        for k, v in files.items():
            result[k] = v.get("sha256") if isinstance(v, dict) else v
        return result
    if isinstance(files, list):
        result = {}
        for entry in files:
            path = entry.get("path") or entry.get("name")
            result[path] = entry.get("sha256") or entry.get("digest")
        return result
    raise KeelError("manifest.json has no 'files' map or list")


def verify_manifest(kit):
    """Every listed file exists with its digest and every file of the kit
    is listed (manifest.json itself aside). Returns a list of problems."""
    path = os.path.join(kit, "manifest.json")
    if not os.path.exists(path):
        return [f"{rel(path)} missing"]
    try:
        manifest = json.load(open(path))
        files = manifest_files(manifest)
    except (ValueError, KeelError) as e:
        return [f"manifest.json unreadable: {e}"]
    problems = []
    for name, digest in sorted(files.items()):
        full = os.path.join(kit, name)
        if not os.path.isfile(full):
            problems.append(f"listed but missing: {name}")
            continue
        actual = hashlib.sha256(open(full, "rb").read()).hexdigest()
        if (digest or "").lower().removeprefix("sha256:") != actual:
            problems.append(f"digest mismatch: {name}")
    for d, _, names in os.walk(kit):
        for n in names:
            r = os.path.relpath(os.path.join(d, n), kit)
            if r != "manifest.json" and r not in files:
                problems.append(f"not in manifest: {r}")
    for key in ("name", "version"):
        if key not in manifest:
            problems.append(f"manifest has no '{key}'")
    return problems


def cmd_ddk(args):
    out = build(args.checked)
    kit = publish(out, force=True)
    log(f"published {rel(kit)}")
    tarballs = glob.glob(kit + ".tar.gz")
    if tarballs:
        log(f"tarball {rel(tarballs[0])}")
    return 0
