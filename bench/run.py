"""`make bench`: fit time of BG/NBD and Gamma-Gamma, touchstone-value vs Python `lifetimes`.

Both sides fit the same per-customer summary files (frequency, recency, T in weeks, monetary
value), on the same machine, in this one invocation:

- CDNOW: the 2,357-customer sample of Fader, Hardie & Lee (2005), summarised by
  `touchstone value fit --out` (calibration to 1997-09-30);
- 100k and 1M customers: `simulate_purchases` (the CDNOW parameters, 78 weeks), summarised by
  crates/value/examples/bench_data.rs.

Ours is the release build of crates/value/examples/bench_fit.rs (median of 3 runs; building
the compressed model input is included); lifetimes is one run of bench/lifetimes_fit.py. Files
are generated once into --data and reused. "Agree" means every parameter is the same to 3
significant digits (or within 5e-5 relative, when the two straddle a rounding boundary).
"""

import argparse
import json
import math
import os
import platform
import subprocess
import sys

CDNOW = "tests/fixtures/cdnow/CDNOW_sample.txt"


def sh(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def ensure_data(touchstone, bench_data, data, size):
    os.makedirs(data, exist_ok=True)
    if size == "cdnow":
        path = os.path.join(data, "cdnow.csv")
        if not os.path.exists(path):
            sh([touchstone, "--no-progress", "value", "fit", "--orders", CDNOW,
                "--format", "whitespace", "--no-header", "--customer-col", "2",
                "--date-col", "3", "--amount-col", "5", "--calibration-end", "1997-09-30",
                "--out", path])
        return path
    n = int(float(size.lower().replace("k", "e3").replace("m", "e6")))
    path = os.path.join(data, f"sim_{n}.csv")
    if not os.path.exists(path):
        print(f"  generating {path} ...", file=sys.stderr)
        sh([bench_data, str(n), path, "546", "42"])
    return path


def sig(v, digits=3):
    if v == 0 or not math.isfinite(v):
        return v
    return round(v, digits - 1 - int(math.floor(math.log10(abs(v)))))


def agree(ours, theirs):
    worst = 0.0
    ok = True
    for k, v in theirs.items():
        o = ours[k]
        rel = abs(o - v) / abs(v)
        worst = max(worst, rel)
        if sig(o) != sig(v) and rel > 5e-5:
            ok = False
    return ok, worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--touchstone", required=True, help="touchstone binary (for the CDNOW data)")
    ap.add_argument("--bench-data", required=True,
                    help="bench_data example binary (for the simulated data)")
    ap.add_argument("--ours", required=True, help="bench_fit binary (release)")
    ap.add_argument("--data", required=True, help="directory for the summary files")
    ap.add_argument("--sizes", default="cdnow 100k 1M")
    args = ap.parse_args()
    import lifetimes  # noqa: F401  (fail early if the venv is missing it)

    rows = []
    for size in args.sizes.split():
        path = ensure_data(args.touchstone, args.bench_data, args.data, size)
        print(f"  {os.path.basename(path)}: touchstone ...", file=sys.stderr)
        ours = json.loads(sh([args.ours, path, "3"]))
        print(f"  {os.path.basename(path)}: lifetimes ...", file=sys.stderr)
        theirs = json.loads(sh([sys.executable, os.path.join(os.path.dirname(__file__),
                                                             "lifetimes_fit.py"), path]))
        for model, label in [("bgnbd", "BG/NBD"), ("gamma_gamma", "Gamma-Gamma")]:
            ok, worst = agree(ours[model]["params"], theirs[model]["params"])
            n = ours["customers"] if model == "bgnbd" else ours["repeat_customers"]
            rows.append((label, ours["customers"], n, ours[model]["seconds"],
                         theirs[model]["seconds"], ok, worst, ours[model]["params"],
                         theirs[model]["params"]))

    import lifetimes as lt
    import numpy
    import scipy
    print(f"\nFit time, touchstone-value (release, {os.cpu_count()} cores) vs lifetimes "
          f"{lt.__version__} (Python {platform.python_version()}, numpy {numpy.__version__}, "
          f"scipy {scipy.__version__}), same summary files\n")
    head = (f"{'model':<12} {'customers':>10} {'fitted on':>10} {'ours (s)':>10} "
            f"{'lifetimes (s)':>14} {'ratio':>8}  {'agree (3 s.f.)':<15} {'max rel. diff':>13}")
    print(head)
    print("-" * len(head))
    for label, size, n, ours_s, theirs_s, ok, worst, _, _ in rows:
        ratio = theirs_s / ours_s if ours_s > 0 else float("inf")
        print(f"{label:<12} {size:>10,} {n:>10,} {ours_s:>10.4f} {theirs_s:>14.3f} "
              f"{ratio:>7.0f}x  {'yes' if ok else 'NO':<15} {worst:>13.1e}")
    print()
    for label, size, _, _, _, _, _, ours_p, theirs_p in rows:
        o = ", ".join(f"{k}={sig(v, 4)}" for k, v in ours_p.items())
        t = ", ".join(f"{k}={sig(v, 4)}" for k, v in theirs_p.items())
        print(f"{label:<12} {size:>10,}  ours: {o}\n{'':<24} lifetimes: {t}")
    if not all(r[5] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
