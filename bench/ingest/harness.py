"""Helpers of scripts/bench-ingest, which does the orchestration itself.

    harness.py free-port
        a free TCP port on 127.0.0.1 (for nginx, which cannot listen on 0)
    harness.py wait-http URL PID SECONDS
        returns once URL answers any HTTP status; fails when process PID
        exits first or SECONDS pass
    harness.py metrics URL
        the collector's /metrics as key=value lines the run file keeps
    harness.py log-records STAT_JSON
        total.records of a `trackway log stat --json` document
    harness.py run-line RUN_FILE
        one line describing a finished run
    harness.py report RUNS_DIR
        the table of medians, the ratios, the targets, the log check, and
        last the one line of JSON; exits 1 when the log check failed

A run file holds key=value lines written by scripts/bench-ingest; the
wrk output it names holds the "ingest-wrk {json}" line of ingest.lua.
MB is 10^6 bytes; VmHWM is in KiB.
"""

import http.client
import json
import os
import pathlib
import re
import socket
import statistics
import sys
import time
import urllib.request

# What the figures are compared with (docs/BENCHMARKS.md, "Ingest").
TARGET_BATCH_EVENTS_PER_S = 500_000
TARGET_BATCH_P99_MS = 50.0
TARGET_RATIO_TO_NGINX = 0.60
TARGET_SINGLE_P99_MS = 10.0
TARGET_PEAK_RSS_MB = 200.0


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has exited too, though its pid is still there.
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_http(url, pid, seconds):
    match = re.match(r"http://([^:/]+):(\d+)(/.*)?$", url)
    if not match:
        sys.exit(f"harness: not an http URL: {url}")
    host, port, path = match.group(1), int(match.group(2)), match.group(3)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            sys.exit(f"harness: process {pid} exited before {url} answered")
        conn = http.client.HTTPConnection(host, port, timeout=2)
        try:
            conn.request("GET", path or "/")
            conn.getresponse().read()
            return
        except OSError:
            # Not listening yet: the connection attempt is the wait.
            time.sleep(0.02)
        finally:
            conn.close()
    sys.exit(f"harness: {url} did not answer within {seconds} s")


METRICS = {
    "accepted": 'trackway_events_accepted_total{source="bench"}',
    "duplicates": 'trackway_events_duplicate_total{source="bench"}',
    "received": 'trackway_events_received_total{source="bench"}',
    "appends": 'trackway_log_appends_total{log="events"}',
    "syncs": 'trackway_log_syncs_total{log="events"}',
    "bytes_written": 'trackway_log_bytes_written_total{log="events"}',
    "answered_503": 'trackway_responses_total{code="503"}',
    "log_full": 'trackway_backpressure_total{cause="log_full"}',
}


def metrics(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = value
    for key, name in METRICS.items():
        print(f"{key}={values.get(name, '')}")


def log_records(path):
    print(json.loads(pathlib.Path(path).read_text())["total"]["records"])


# ------------------------------------------------------------- runs --


def bash_times(text):
    """Children's user + system seconds from the second line of `times`."""
    lines = text.strip().splitlines()
    total = 0.0
    for part in lines[-1].split():
        m = re.match(r"(\d+)m([\d.]+)s", part)
        total += int(m.group(1)) * 60 + float(m.group(2))
    return total


def busy_ticks(line):
    """Busy and total clock ticks of all CPUs from /proc/stat's first line."""
    fields = [int(x) for x in line.split()[1:9]]
    idle = fields[3] + fields[4]
    return sum(fields) - idle, sum(fields)


def read_run(path):
    kv = {}
    for line in pathlib.Path(path).read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            kv[key] = value
    out = pathlib.Path(kv["wrk_output"]).read_text()
    found = re.search(r"^ingest-wrk (\{.*\})$", out, re.M)
    if not found:
        sys.exit(f"harness: no ingest-wrk line in {kv['wrk_output']}:\n{out}")
    wrk = json.loads(found.group(1))
    run = {
        "server": kv["server"],
        "load": kv["load"],
        "rep": int(kv["rep"]),
        "events_per_request": int(kv["events_per_request"]),
        "wrk": wrk,
        "kv": kv,
    }
    seconds = wrk["duration_s"]
    ticks = float(kv["clk_tck"])
    run["requests_per_s"] = wrk["ok"] / seconds
    run["events_per_s"] = wrk["ok"] * run["events_per_request"] / seconds
    run["p50_ms"] = wrk["p50_ms"]
    run["p99_ms"] = wrk["p99_ms"]
    run["bad"] = (wrk["non2xx"] + wrk["connect_errors"] + wrk["read_errors"]
                  + wrk["write_errors"] + wrk["timeouts"])
    # CPU over the wrk process's whole life, in cores and per request.
    wall = float(kv["wall_s"])
    server_s = (float(kv["server_ticks_after"])
                - float(kv["server_ticks_before"])) / ticks
    wrk_s = bash_times(kv["times_after"]) - bash_times(kv["times_before"])
    busy0, total0 = busy_ticks(kv["stat_before"])
    busy1, total1 = busy_ticks(kv["stat_after"])
    run["server_cores"] = server_s / wall
    run["wrk_cores"] = wrk_s / wall
    run["machine_cores"] = (busy1 - busy0) / ticks / wall
    answered = max(wrk["requests"], 1)
    run["server_us_per_request"] = server_s * 1e6 / answered
    run["wrk_us_per_request"] = wrk_s * 1e6 / answered
    if kv["server"] == "trackway":
        run["rss_mb"] = int(kv["vmhwm_kb"]) * 1024 / 1e6
        run["records"] = int(kv["records"])
        run["failed_records"] = int(kv["failed_records"])
        run["needed"] = wrk["ok"] * run["events_per_request"]
        run["log_ok"] = run["records"] >= run["needed"]
        syncs = int(kv.get("syncs") or 0)
        run["records_per_sync"] = (int(kv.get("accepted") or 0) / syncs
                                   if syncs else 0.0)
    return run


def run_line(run):
    w = run["wrk"]
    text = (f"run {run['server']:<8} {run['load']:<5} rep={run['rep']}: "
            f"{run['requests_per_s']:,.0f} req/s")
    if run["events_per_request"] > 1:
        text += f", {run['events_per_s']:,.0f} events/s"
    text += (f", p50 {run['p50_ms']:.2f} ms, p99 {run['p99_ms']:.2f} ms, "
             f"not 2xx {w['non2xx']}")
    if w["non2xx"]:
        text += f" {json.dumps(w['statuses'], separators=(',', ':'))}"
    errors = (w["connect_errors"] + w["read_errors"] + w["write_errors"])
    if errors or w["timeouts"]:
        text += f", socket errors {errors}, timeouts {w['timeouts']}"
    text += (f"; CPU server {run['server_cores']:.2f} "
             f"({run['server_us_per_request']:.1f} us/req), "
             f"wrk {run['wrk_cores']:.2f}, machine {run['machine_cores']:.2f}"
             " cores")
    if run["server"] == "trackway":
        text += (f"; VmHWM {run['rss_mb']:.1f} MB; log {run['records']:,} "
                 f"records for {run['needed']:,} answered 2xx "
                 f"({'ok' if run['log_ok'] else 'MISSING EVENTS'})")
        if run["failed_records"]:
            text += f", {run['failed_records']} in the failed-events log"
        dups = run["kv"].get("duplicates") or "0"
        if dups != "0":
            text += f", {dups} dropped as duplicates"
        text += f", {run['records_per_sync']:.0f} events per fdatasync"
    return text


def median(runs, key):
    return statistics.median(r[key] for r in runs)


def verdict(ok):
    return "met" if ok else "MISSED"


def report(runs_dir):
    runs = [read_run(p) for p in sorted(pathlib.Path(runs_dir).glob("*.run"))]
    if not runs:
        sys.exit("harness: no finished runs to report")
    groups = {}
    for run in runs:
        groups.setdefault((run["server"], run["load"]), []).append(run)

    print(f"\nmedians of {max(r['rep'] for r in runs)} runs each; req/s "
          "counts 2xx answers only; CPU in cores (1.00 = one core busy)")
    header = (f"{'server':<8} {'load':<5} {'runs':>4} {'req/s':>9} "
              f"{'events/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'not 2xx':>7} "
              f"{'srv CPU':>7} {'us/req':>7} {'wrk CPU':>7} {'RSS MB':>7}")
    print(header)
    for (server, load), group in sorted(groups.items(),
                                        key=lambda kv: (kv[0][1], kv[0][0])):
        rss = (f"{max(r['rss_mb'] for r in group):7.1f}"
               if server == "trackway" else f"{'-':>7}")
        print(f"{server:<8} {load:<5} {len(group):>4} "
              f"{median(group, 'requests_per_s'):9.0f} "
              f"{median(group, 'events_per_s'):10.0f} "
              f"{median(group, 'p50_ms'):7.2f} {median(group, 'p99_ms'):7.2f} "
              f"{sum(r['wrk']['non2xx'] for r in group):7d} "
              f"{median(group, 'server_cores'):7.2f} "
              f"{median(group, 'server_us_per_request'):7.1f} "
              f"{median(group, 'wrk_cores'):7.2f} {rss}")

    def get(server, load):
        return groups.get((server, load), [])

    tb, tt = get("trackway", "batch"), get("trackway", "track")
    nb, nt = get("nginx", "batch"), get("nginx", "track")
    figures = {}
    if tb:
        figures["batch_events_per_s"] = median(tb, "events_per_s")
        figures["batch_p99_ms"] = median(tb, "p99_ms")
    if tt:
        figures["single_requests_per_s"] = median(tt, "requests_per_s")
        figures["single_p99_ms"] = median(tt, "p99_ms")
    if nt:
        figures["nginx_requests_per_s"] = median(nt, "requests_per_s")
    if tt and nt:
        figures["ratio_to_nginx"] = (figures["single_requests_per_s"]
                                     / figures["nginx_requests_per_s"])
        per_rep = {r["rep"]: r["requests_per_s"] for r in nt}
        ratios = [r["requests_per_s"] / per_rep[r["rep"]] for r in tt
                  if per_rep.get(r["rep"])]
        single = figures["single_requests_per_s"]
        nginx = figures["nginx_requests_per_s"]
        print(f"\nsingle events: trackway {single:,.0f} req/s, "
              f"nginx {nginx:,.0f} req/s: "
              f"ratio {figures['ratio_to_nginx']:.3f} (medians), "
              f"{statistics.median(ratios):.3f} (median of the runs' ratios)")
    if tb and nb:
        ratio_b = median(tb, "requests_per_s") / median(nb, "requests_per_s")
        print(f"batches: trackway {median(tb, 'requests_per_s'):,.0f} req/s, "
              f"nginx {median(nb, 'requests_per_s'):,.0f} req/s: ratio "
              f"{ratio_b:.3f} (medians)")
    tw = tb + tt
    if tw:
        figures["peak_rss_mb"] = max(r["rss_mb"] for r in tw)

    print("\ntargets:")
    if tb:
        batch_ok = figures["batch_events_per_s"] >= TARGET_BATCH_EVENTS_PER_S
        print(f"  (a) batches of {tb[0]['events_per_request']}: "
              f"{figures['batch_events_per_s']:,.0f} events/s (target >= "
              f"{TARGET_BATCH_EVENTS_PER_S:,}): "
              f"{verdict(batch_ok)}"
              f"; p99 {figures['batch_p99_ms']:.2f} ms (target < "
              f"{TARGET_BATCH_P99_MS:.0f} ms): "
              f"{verdict(figures['batch_p99_ms'] < TARGET_BATCH_P99_MS)}")
    if "ratio_to_nginx" in figures:
        print(f"  (b) single events: {figures['ratio_to_nginx']:.1%} of "
              f"nginx's requests/s (target >= {TARGET_RATIO_TO_NGINX:.0%}): "
              f"{verdict(figures['ratio_to_nginx'] >= TARGET_RATIO_TO_NGINX)}"
              f"; p99 {figures['single_p99_ms']:.2f} ms (target < "
              f"{TARGET_SINGLE_P99_MS:.0f} ms): "
              f"{verdict(figures['single_p99_ms'] < TARGET_SINGLE_P99_MS)}")
    if tw:
        print(f"  peak RSS {figures['peak_rss_mb']:.1f} MB (target < "
              f"{TARGET_PEAK_RSS_MB:.0f} MB): "
              f"{verdict(figures['peak_rss_mb'] < TARGET_PEAK_RSS_MB)}")

    bad = [r for r in runs if r["bad"]]
    for r in bad:
        w = r["wrk"]
        print(f"WARNING: run {r['server']} {r['load']} rep={r['rep']} had "
              f"{w['non2xx']} answers that were not 2xx {w['statuses']}, "
              f"{w['connect_errors'] + w['read_errors'] + w['write_errors']} "
              f"socket errors and {w['timeouts']} timeouts; its figures count "
              "2xx answers only")
    lost = [r for r in tw if not r["log_ok"]]
    print("\nlog check: " + (
        f"every trackway run's events log holds at least the events its 2xx "
        f"answers acknowledged ({sum(r['records'] for r in tw):,} records "
        f"for {sum(r['needed'] for r in tw):,} acknowledged events, "
        f"{sum(r['failed_records'] for r in tw)} failed-event records)"
        if not lost else
        "FAILED: " + "; ".join(
            f"{r['load']} rep={r['rep']}: {r['records']:,} records for "
            f"{r['needed']:,} acknowledged events" for r in lost)))

    keys = ["batch_events_per_s", "batch_p99_ms", "single_requests_per_s",
            "single_p99_ms", "nginx_requests_per_s", "ratio_to_nginx",
            "peak_rss_mb"]
    rounding = {"batch_events_per_s": 0, "single_requests_per_s": 0,
                "nginx_requests_per_s": 0, "ratio_to_nginx": 3}
    line = {"bench": "ingest"}
    for key in keys:
        value = figures.get(key)
        digits = rounding.get(key, 2)
        if value is None:
            line[key] = None
        elif digits == 0:
            line[key] = int(round(value))
        else:
            line[key] = round(value, digits)
    print(json.dumps(line, separators=(",", ":")))
    return 1 if lost else 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "free-port" and not args:
        free_port()
    elif cmd == "wait-http" and len(args) == 3:
        wait_http(args[0], int(args[1]), float(args[2]))
    elif cmd == "metrics" and len(args) == 1:
        metrics(args[0])
    elif cmd == "log-records" and len(args) == 1:
        log_records(args[0])
    elif cmd == "run-line" and len(args) == 1:
        print(run_line(read_run(args[0])))
    elif cmd == "report" and len(args) == 1:
        return report(args[0])
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
