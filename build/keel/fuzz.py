# fuzz.py - `keel fuzz NAME`: build one libFuzzer harness (//fuzz, host_fuzz
# toolchain) and run it over a writable working corpus under out/fuzz/NAME,
# seeded from the fuzzer's seed corpora. Also finds fuzzers and corpora for
# the regression run in `keel test`.

import json
import os
import shutil
import subprocess

from common import KeelError, ROOT, aux_dir, log, quote, rel
from gnbuild import build_dir, gen, ninja

FUZZ_TOOLCHAIN_DIR = "host_fuzz"


def _metadata(out):
    """{name: {"binary", "corpus"}} from the out/<dir>/fuzz/<name>.json files
    the fuzzer template writes at gn gen time (paths relative to out)."""
    found = {}
    directory = os.path.join(out, "fuzz")
    if not os.path.isdir(directory):
        return found
    for entry in sorted(os.listdir(directory)):
        if not entry.endswith(".json"):
            continue
        try:
            data = json.load(open(os.path.join(directory, entry)))
            found[data["name"]] = data
        except (OSError, ValueError, KeyError):
            continue
    return found


def list_fuzzers(out):
    """[(name, absolute binary path)] of every fuzzer: from the template's
    metadata, else the executables GN knows under //fuzz in the host_fuzz
    toolchain (new fuzzers appear by themselves either way)."""
    meta = _metadata(out)
    if meta:
        return sorted(
            (name, os.path.normpath(os.path.join(out, data["binary"])))
            for name, data in meta.items()
        )
    if not os.path.isdir(os.path.join(ROOT, "fuzz")):
        return []
    proc = subprocess.run(
        ["gn", "ls", out, "//fuzz/*", "--type=executable", "--as=output"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    found = []
    for line in proc.stdout.split():
        if line.startswith(FUZZ_TOOLCHAIN_DIR + "/"):
            found.append((os.path.basename(line), os.path.join(out, line)))
    return sorted(set(found))


def seed_corpora(out, name):
    """Existing, non-empty seed directories of a fuzzer: the corpus its
    build assembles (committed seeds plus the project's built images) and,
    as a fallback, committed seed directories."""
    short = name[: -len("_fuzzer")] if name.endswith("_fuzzer") else name
    candidates = []
    meta = _metadata(out).get(name)
    if meta and meta.get("corpus"):
        candidates.append(os.path.normpath(os.path.join(out, meta["corpus"])))
    candidates += [
        os.path.join(out, "fuzz", "corpus", short),
        os.path.join(ROOT, "fuzz", short, "seeds"),
    ]
    result = []
    for c in candidates:
        if os.path.isdir(c) and os.listdir(c) and c not in result:
            result.append(c)
    return result[:1] if result and meta else result


def cmd_fuzz(args):
    out = build_dir(args.checked)
    gen(out)
    fuzzers = dict(list_fuzzers(out))
    if args.name not in fuzzers and args.name + "_fuzzer" in fuzzers:
        args.name += "_fuzzer"
    if args.name not in fuzzers:
        names = ", ".join(sorted(fuzzers)) or "none yet"
        raise KeelError(f"no fuzzer named {args.name!r} (fuzzers: {names})")
    binary = fuzzers[args.name]
    # Building the fuzzer also assembles its seed corpus (a GN action).
    ninja(out, [os.path.relpath(binary, out)])
    short = args.name[: -len("_fuzzer")] if args.name.endswith("_fuzzer") else args.name
    work = aux_dir("fuzz", short)
    corpus = os.path.join(work, "corpus")
    os.makedirs(corpus, exist_ok=True)
    for seeds in seed_corpora(out, args.name):
        for n in os.listdir(seeds):
            src = os.path.join(seeds, n)
            dst = os.path.join(corpus, n)
            if os.path.isfile(src) and not os.path.exists(dst):
                shutil.copyfile(src, dst)
    # libFuzzer writes new inputs into the first corpus directory and crash
    # reproducers next to it.
    cmd = [binary, corpus, f"-artifact_prefix={work}/"] + list(args.fuzzer_args)
    log(f"working corpus {rel(corpus)}; crashes go to {rel(work)}/")
    log(f"$ {quote(cmd)}")
    return subprocess.run(cmd, cwd=ROOT).returncode
