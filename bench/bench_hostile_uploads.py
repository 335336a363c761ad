"""Hostile uploads: refusing them must be fast and cheap.

(a) A FITS file renamed digit.png: ~1 MB that gunzips to 1 GiB, declaring a
    6000x6000 8-bit image (36 megapixels, under the per-image cap). Before the
    fix Pillow's FITS plugin decoded any upload: `gzip.decompress` of the whole
    payload, then a Python loop over every pixel (GBs of memory, tens of
    seconds). Now it is refused from its signature, without running that plugin.
    Through `prepare_image` (one uploaded image) and `load_image_zip` (the same
    file inside a zip).
(b) A ~5 MB zip of 15,330 copies of one 35 KB black 6000x6000 PNG: 36 megapixels
    each (under the per-image cap) and 552 gigapixels in all, about two
    CPU-hours of decoding before the fix. Now the zip is refused by the pixel
    budget (`MAX_TOTAL_PIXELS`), summed from the headers (read in name order
    until it is passed) before anything is decoded.
(c) For comparison, a legitimate zip of 2,000 small PNGs that loads: what the
    header pass costs an accepted upload.

Each case runs in a fresh subprocess (the payload is written to a file first and
read there before the clock starts), so its peak memory is its own:
peak_rss_growth_mb = ru_maxrss after the call - ru_maxrss just before it.

    python bench/bench_hostile_uploads.py [--entries 15330] [--fits-mib 1024]
        [--module PATH] [--timeout 120]

By default the cases run against this checkout: `aecore.images.prepare_image`
and `aecore.uploads.load_image_zip`. --module runs them against one standalone
file that defines both, such as aecore/data.py from before it was split into
data, builtin_data, images and uploads, e.g. the one before the fix (a case
stopped by --timeout prints outcome=timeout met=False):

    git show <rev>:aecore/data.py > /tmp/old_data.py
    python bench/bench_hostile_uploads.py --module /tmp/old_data.py --timeout 60

(for a revision after the split, run that revision's own bench from a
`git worktree add /tmp/rev <rev>` checkout).

Standalone: no network, no keras (unlike bench/common.py, which is not imported
for that reason; the output lines have the same `name key=value ...` format).
The payloads are built by tests/imagefiles.py, which the tests use too.
"""

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import tempfile
import time
import types
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from imagefiles import encode, fits_bytes, make_zip  # noqa: E402

TARGET_S, TARGET_MB = 1.0, 100.0  # a refusal: under a second and under 100 MB of extra memory


def line(name: str, **fields) -> None:
    """Print one result line: `name key=value ...` (same format as bench/common.py)."""
    parts = [f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in fields.items()]
    print(name + " " + " ".join(parts), flush=True)


# --- one case, in its own process --------------------------------------------------------------

def run_case(case: str, payload_path: str, module: str | None) -> None:
    if module:
        spec = importlib.util.spec_from_file_location("data_under_test", module)
        data = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(data)
    else:
        sys.path.insert(0, str(ROOT))
        from aecore.images import prepare_image
        from aecore.uploads import load_image_zip
        data = types.SimpleNamespace(prepare_image=prepare_image, load_image_zip=load_image_zip)
    payload = Path(payload_path).read_bytes()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    try:
        if case.endswith("_zip"):
            ds = data.load_image_zip(payload)
            outcome, message = "accepted", f"{len(ds)} images, {len(ds.skipped)} skipped"
        else:
            data.prepare_image(payload, 28, 1)
            outcome, message = "accepted", "decoded"
    except ValueError as e:
        outcome, message = "refused", str(e)
    seconds = time.perf_counter() - t
    growth_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KiB on Linux
    print(json.dumps({"outcome": outcome, "message": message, "seconds": seconds, "growth_mb": growth_kb / 1024}))


def measure(name, case, payload, args, want, target_s=TARGET_S, target_mb=TARGET_MB, tmp=None):
    path = Path(tmp) / f"{name}.bin"
    path.write_bytes(payload)
    cmd = [sys.executable, __file__, "--case", case, "--payload", str(path)]
    if args.module:
        cmd += ["--module", args.module]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
        result = json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
    except subprocess.TimeoutExpired:
        result = "timeout"
    finally:
        path.unlink()
    if result == "timeout" or result is None:
        why = "TIMEOUT" if result == "timeout" else f"CRASHED(rc={out.returncode})"
        line(name, seconds=f">{args.timeout:g}" if result == "timeout" else "?", peak_rss_growth_mb="?",
             payload_mb=len(payload) / 2**20, outcome=why.lower(), target_s=f"<{target_s:g}",
             target_mb=f"<{target_mb:g}", met=False)
        if result is None:
            print(f"#   {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else ''}", file=sys.stderr)
        return
    met = result["outcome"] == want and result["seconds"] < target_s and result["growth_mb"] < target_mb
    line(name, seconds=result["seconds"], peak_rss_growth_mb=result["growth_mb"], payload_mb=len(payload) / 2**20,
         outcome=result["outcome"], target_s=f"<{target_s:g}", target_mb=f"<{target_mb:g}", met=met)
    print(f"#   {result['message']}", file=sys.stderr, flush=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--entries", type=int, default=15_330, help="PNGs of 6000x6000 in the zip of case (b)")
    p.add_argument("--fits-mib", type=int, default=1024, help="MiB the FITS payload of case (a) gunzips to")
    p.add_argument("--module", help="run the cases against this standalone file (an aecore/data.py from before "
                                    "the split) instead of aecore.images and aecore.uploads")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds allowed per case")
    p.add_argument("--case", help=argparse.SUPPRESS)
    p.add_argument("--payload", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.case:
        run_case(args.case, args.payload, args.module)
        return

    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        fits = fits_bytes(6000, 6000, args.fits_mib, pixels=False)
        print(f"# built a {len(fits) / 2**20:.2f} MB FITS (6000x6000, gunzips to {args.fits_mib} MiB) "
              f"in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        measure("refuse_fits_png", "fits_png", fits, args, "refused", tmp=tmp)
        # stored, not deflated: deflating the gzip stream of zeros again would trip the zip-bomb ratio check first
        measure("refuse_fits_png_in_zip", "fits_png_zip", make_zip([("digit.png", fits)], zipfile.ZIP_STORED), args,
                "refused", tmp=tmp)
        del fits

        t = time.perf_counter()
        big = encode("L", (6000, 6000), 0)
        many = make_zip((f"digits/{i}.png", big) for i in range(args.entries))
        print(f"# built a {len(many) / 2**20:.2f} MB zip of {args.entries:,} PNGs of 6000x6000 "
              f"({len(big):,} bytes each) in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        measure(f"refuse_{args.entries}_6000px_pngs_zip", "many_pngs_zip", many, args, "refused", tmp=tmp)
        del many

        small = make_zip((f"{i % 10}/{i}.png", encode("L", (28, 28), i % 256)) for i in range(2000))
        measure("accept_2000_28px_pngs_zip", "small_pngs_zip", small, args, "accepted", target_s=5.0, tmp=tmp)


if __name__ == "__main__":
    main()
