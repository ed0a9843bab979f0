"""`make bench` (pipeline part): the default pipeline vs DuckDB doing the same work, per stage.

For each size (customers x 90 days, seeded, generated once into --data and reused):

- Touchstone: `touchstone run pipelines/customer_success.yaml --json` (release build), with
  `memory_limit_mb` from --memory-mb, under `/usr/bin/time -v` for the peak RSS. Stage times
  come from the run report's `steps` (wall time of each source's staging, each cached view,
  each mart and the metrics); bytes written are the warehouse's size on disk afterwards.
- DuckDB (the `duckdb` PyPI package, 2 threads, the same memory limit): bench/duckdb_pipeline.py
  on the same exports: every export read to Parquet (zstd), customers matched on CRM id /
  email / phone, web events sessionized (30-minute gap), daily metrics, RFM; its own per-stage
  timings, peak RSS by `/usr/bin/time -v`.

Stages: stage (every source to Parquet), identity (customer matching), journeys (channel facts,
sessions, touchpoints), value (RFM, value models, retention), metrics, and load (the rest of the
run: listing, ledger, commits outside the steps). The ratio is Touchstone's time / DuckDB's
(below 1 means Touchstone is faster).

Identity + journeys: their two stages together, at each size's touchpoints (the export records:
web events, calls, chats, cases...; 30k customers give about 1M, 300k about 10M), next to
DuckDB's customer matching and SQL sessionization; and the run's scores against the
generator's truth/ (bench/score.py: identity pairwise precision/recall, simultaneous-call
precision/recall, abandon-cause accuracy).

Staging per source: rows/s and MB/s (of the export files as stored) for both, same files.

--big-csv-gb G: also stages one G GB CSV (the CDR export repeated) with a pipeline that only
stages (no models, no metrics) and reports its peak RSS, next to DuckDB reading it to Parquet.

Everything is printed as tables and written as JSON (--out). Nothing here is a test: no
assertion on time.
"""

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.dirname(os.path.abspath(__file__))

STAGE_OF_VIEW = {
    "int_web_identity": "identity",
    "int_customer_keys": "identity",
    "int_web_sessions": "journeys",
}
STAGE_OF_MART = {
    "customer_rfm": "value",
    "customer_value": "value",
    "value_model_fits": "value",
    "retention_cohorts": "value",
    "retention_curve": "value",
    "retention_projection": "value",
}
STAGES = ["stage", "identity", "journeys", "value", "metrics", "load"]


def size_of(n):
    return int(float(str(n).lower().replace("k", "e3").replace("m", "e6")))


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def timed(cmd, env=None, cwd=ROOT):
    """Runs cmd under /usr/bin/time -v; returns (stdout, wall seconds, peak RSS bytes)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as t:
        start = time.monotonic()
        p = subprocess.run(["/usr/bin/time", "-v", "-o", t.name] + cmd, cwd=cwd, env=env,
                           capture_output=True, text=True)
        wall = time.monotonic() - start
        report = open(t.name).read()
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-3000:] + p.stderr[-3000:])
        raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", report).group(1)) * 1024
    return p.stdout, wall, rss


def generate(touchstone, data, customers, days):
    raw = os.path.join(data, f"raw-{customers}")
    if not os.path.exists(os.path.join(raw, ".complete")):
        print(f"  generating {customers:,} customers x {days} days into {raw} ...", file=sys.stderr)
        shutil.rmtree(raw, ignore_errors=True)
        subprocess.run([touchstone, "--no-progress", "generate", "--out", raw, "--customers",
                        str(customers), "--days", str(days), "--seed", "42"], check=True,
                       cwd=ROOT, capture_output=True)
        open(os.path.join(raw, ".complete"), "w").close()
    return raw


def pipeline_file(work, raw, warehouse, memory_mb, spill, models=None, metrics=None):
    text = open(os.path.join(ROOT, "pipelines/customer_success.yaml")).read()
    text = text.replace("${TOUCHSTONE_RAW:-data/raw}", raw)
    text = text.replace("${TOUCHSTONE_WAREHOUSE:-warehouse}", warehouse)
    if models is not None:
        text = text.replace("models: sql", f"models: {models}")
    if metrics is not None:
        text = text.replace("metrics: pipelines/metrics", f"metrics: {metrics}")
    text += f"\nmemory_limit_mb: {memory_mb}\nspill_dir: {spill}\n"
    path = os.path.join(work, "pipeline.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def ours(touchstone, raw, work, memory_mb, date):
    warehouse = os.path.join(work, "warehouse")
    shutil.rmtree(warehouse, ignore_errors=True)
    pipeline = pipeline_file(work, raw, warehouse, memory_mb, os.path.join(work, "spill"))
    out, wall, rss = timed([touchstone, "--no-progress", "run", pipeline, "--date", date,
                            "--json", "--full-refresh"])
    report = json.loads(out)
    stages = {s: 0.0 for s in STAGES}
    for step in report.get("steps", []):
        kind, _, name = step["step"].partition(" ")
        if kind == "stage":
            stages["stage"] += step["secs"]
        elif kind == "cache":
            stages[STAGE_OF_VIEW.get(name, "journeys")] += step["secs"]
        elif kind == "model":
            stages[STAGE_OF_MART.get(name, "journeys")] += step["secs"]
        elif kind == "metrics":
            stages["metrics"] += step["secs"]
    stages["load"] = max(0.0, wall - sum(stages.values()))
    per_source = {}
    for s in report["sources"]:
        secs = next((x["secs"] for x in report["steps"] if x["step"] == f"stage {s['name']}"), 0)
        per_source[s["name"]] = {"rows": s["rows_read"], "bytes": s.get("bytes_read", 0),
                                 "secs": secs}
    return {"wall_secs": wall, "peak_rss": rss, "stages": stages, "sources": per_source,
            "rows_read": sum(s["rows_read"] for s in report["sources"]),
            "bytes_written": du(warehouse), "spill_files": report.get("spill_files", 0),
            "spilled_bytes": report.get("spilled_bytes", 0)}


def score(python, warehouse, truth):
    """Identity, overlap and abandon-cause scores of the run against truth/ (bench/score.py)."""
    p = subprocess.run([python, os.path.join(HERE, "score.py"), "--warehouse", warehouse,
                        "--truth", truth], capture_output=True, text=True)
    if p.returncode != 0:
        print(f"  scoring failed: {p.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(p.stdout)


def duckdb(python, raw, work, memory_mb, date):
    out_dir = os.path.join(work, "duckdb")
    shutil.rmtree(out_dir, ignore_errors=True)
    out, wall, rss = timed([python, os.path.join(HERE, "duckdb_pipeline.py"), "--raw", raw,
                            "--out", out_dir, "--memory-mb", str(memory_mb), "--date", date])
    result = json.loads(out)
    result["stages"]["load"] = max(0.0, wall - sum(result["stages"].values()))
    result.update({"wall_secs": wall, "peak_rss": rss, "bytes_written": du(out_dir)})
    return result


def big_csv(touchstone, python, data, raw, gb, memory_mb):
    """One ~gb GB CDR file (the sample's Master.csv repeated), staged alone."""
    big = os.path.join(data, f"big-{gb}gb")
    path = os.path.join(big, "asterisk", "Master.csv")
    target = int(gb * 1e9)
    if not os.path.exists(path) or os.path.getsize(path) < target:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        chunk = open(os.path.join(raw, "asterisk", "Master.csv"), "rb").read()
        with open(path, "wb") as f:
            written = 0
            while written < target:
                f.write(chunk)
                written += len(chunk)
    size = os.path.getsize(path)
    work = tempfile.mkdtemp(prefix="touchstone-bench-big-", dir=data)
    try:
        empty = os.path.join(work, "empty")
        os.makedirs(empty)
        warehouse = os.path.join(work, "warehouse")
        text = (f"name: big_csv\nwarehouse: {warehouse}\nmodels: {empty}\nmetrics: {empty}\n"
                f"memory_limit_mb: {memory_mb}\nspill_dir: {work}/spill\nsources:\n"
                f"  - name: asterisk_cdr\n    type: asterisk_cdr\n    path: {path}\n"
                f"    timezone: America/Chicago\n")
        pipeline = os.path.join(work, "pipeline.yaml")
        open(pipeline, "w").write(text)
        out, wall, rss = timed([touchstone, "--no-progress", "run", pipeline, "--date",
                                "2026-10-29", "--json"])
        rows = json.loads(out)["sources"][0]["rows_read"]
        _, dwall, drss = timed([python, os.path.join(HERE, "duckdb_pipeline.py"), "--stage-cdr",
                                path, "--out", os.path.join(work, "duck"), "--memory-mb",
                                str(memory_mb)])
        return {"bytes": size, "rows": rows, "ours_secs": wall, "ours_peak_rss": rss,
                "duckdb_secs": dwall, "duckdb_peak_rss": drss}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def fmt_s(x):
    return f"{x:.1f} s" if x >= 1 else f"{x:.2f} s"


def gib(x):
    return f"{x / 2**30:.2f} GiB"


def print_size(customers, r):
    o, d = r["ours"], r["duckdb"]
    print(f"\n{customers:,} customers x {r['days']} days: {o['rows_read']:,} export records, "
          f"memory_limit_mb {r['memory_mb']}")
    print(f"| stage | Touchstone | DuckDB | ratio |\n|---|---:|---:|---:|")
    for s in STAGES:
        a, b = o["stages"][s], d["stages"].get(s, 0.0)
        ratio = f"{a / b:.2f}x" if b > 0 else "-"
        print(f"| {s} | {fmt_s(a)} | {fmt_s(b)} | {ratio} |")
    print(f"| **whole run** | {fmt_s(o['wall_secs'])} | {fmt_s(d['wall_secs'])} | "
          f"{o['wall_secs'] / d['wall_secs']:.2f}x |")
    print(f"| peak RSS | {gib(o['peak_rss'])} | {gib(d['peak_rss'])} | |")
    print(f"| bytes written | {o['bytes_written'] / 1e6:,.0f} MB | "
          f"{d['bytes_written'] / 1e6:,.0f} MB | |")
    print(f"| rows/s (whole run) | {o['rows_read'] / o['wall_secs']:,.0f} | "
          f"{o['rows_read'] / d['wall_secs']:,.0f} | |")
    ij_o = o["stages"]["identity"] + o["stages"]["journeys"]
    ij_d = d["stages"].get("identity", 0.0) + d["stages"].get("journeys", 0.0)
    print(f"\nIdentity + journeys at {o['rows_read'] / 1e6:.1f}M touchpoints (export records): "
          f"Touchstone {fmt_s(ij_o)}, DuckDB {fmt_s(ij_d)} (customer matching and SQL "
          f"sessionization), {ij_o / ij_d if ij_d else 0:.2f}x")
    sc = o.get("scores")
    if sc:
        i, v = sc["identity"], sc["overlaps"]
        c, h = sc["abandon_calls"], sc["abandon_chats"]
        print("Against truth/ (bench/score.py):")
        print(f"| identity pairwise precision | {i['precision']:.4f} | recall | {i['recall']:.4f} |")
        print(f"| simultaneous calls precision | {v['precision']:.3f} | recall "
              f"(identifiable) | {v['recall']:.3f} |")
        print(f"| abandon_cause accuracy, calls | {c['accuracy']:.3f} | chats (wait known) | "
              f"{h['accuracy']:.3f} |")
    if o["spill_files"]:
        print(f"Touchstone spilled {o['spilled_bytes'] / 1e6:,.0f} MB in {o['spill_files']} files.")
    print(f"\nStaging per source (export files to Parquet):")
    print("| source | rows | MB | Touchstone rows/s | MB/s | DuckDB rows/s | MB/s | ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, s in o["sources"].items():
        ds = d["sources"].get(name, {})
        mb = s["bytes"] / 1e6
        ours_rate = s["rows"] / s["secs"] if s["secs"] else 0
        duck_secs = ds.get("secs", 0)
        duck_rate = s["rows"] / duck_secs if duck_secs else 0
        ratio = f"{s['secs'] / duck_secs:.2f}x" if duck_secs else "-"
        print(f"| {name} | {s['rows']:,} | {mb:,.1f} | {ours_rate:,.0f} | "
              f"{mb / s['secs'] if s['secs'] else 0:,.1f} | {duck_rate:,.0f} | "
              f"{mb / duck_secs if duck_secs else 0:,.1f} | {ratio} |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--touchstone", required=True)
    ap.add_argument("--python", required=True, help="a Python with the duckdb package")
    ap.add_argument("--data", required=True)
    ap.add_argument("--sizes", default="100k")
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--memory-mb", type=int, default=2048)
    ap.add_argument("--big-csv-gb", type=float, default=0)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.data, exist_ok=True)
    date = "2026-10-29"
    results = {"machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
               "memory_mb": args.memory_mb, "sizes": {}}
    raw = None
    for size in args.sizes.split():
        customers = size_of(size)
        raw = generate(args.touchstone, args.data, customers, args.days)
        work = tempfile.mkdtemp(prefix="touchstone-bench-", dir=args.data)
        try:
            print(f"  {customers:,} customers: Touchstone ...", file=sys.stderr)
            o = ours(args.touchstone, raw, work, args.memory_mb, date)
            o["scores"] = score(args.python, os.path.join(work, "warehouse"),
                                os.path.join(raw, "truth"))
            print(f"  {customers:,} customers: DuckDB ...", file=sys.stderr)
            d = duckdb(args.python, raw, work, args.memory_mb, date)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        r = {"days": args.days, "memory_mb": args.memory_mb, "ours": o, "duckdb": d}
        results["sizes"][str(customers)] = r
        print_size(customers, r)
    if args.big_csv_gb > 0 and raw is not None:
        print(f"  staging one {args.big_csv_gb} GB CSV ...", file=sys.stderr)
        b = big_csv(args.touchstone, args.python, args.data, raw, args.big_csv_gb, args.memory_mb)
        results["big_csv"] = b
        print(f"\nOne {b['bytes'] / 1e9:.2f} GB CDR CSV ({b['rows']:,} rows) staged alone:")
        print("| | time | rows/s | MB/s | peak RSS |\n|---|---:|---:|---:|---:|")
        for who, secs, rss in [("Touchstone", b["ours_secs"], b["ours_peak_rss"]),
                               ("DuckDB", b["duckdb_secs"], b["duckdb_peak_rss"])]:
            print(f"| {who} | {fmt_s(secs)} | {b['rows'] / secs:,.0f} | "
                  f"{b['bytes'] / 1e6 / secs:,.1f} | {rss / 2**20:,.0f} MiB |")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
