"""Helpers of scripts/bench-delivery, which does the orchestration itself.

    harness.py size TEXT
        TEXT (10MB, 10GB, 512MiB: powers of 1000, or of 1024 with "i") in
        bytes
    harness.py receivers STALL_S
        a webhook that answers every request after STALL_S seconds
        (tests/system/receiver.py) and a loopback port that is bound but
        never listens, so connecting to it is refused; prints
        "stalled=URL down=URL" once both exist and holds them until
        SIGTERM
    harness.py wait-accepted URL COUNT PID IDLE_S
        returns once the collector has accepted COUNT events, process PID
        (the load) has exited, or nothing was accepted for IDLE_S seconds;
        prints accepted=
    harness.py watch-drain URL DEST PID SECONDS
        polls DEST's metrics and process PID's VmRSS until DEST's lag is
        0; prints first_s= (since the start, the first poll that saw an
        event delivered), s= (lag 0), the key=value lines of
        dest-metrics, and max_rss_kb= (the largest VmRSS sampled); fails
        after SECONDS
    harness.py log-total STAT_JSON
        log_records= and log_bytes= of a `trackway log stat --json`
        document
    harness.py run-line RUN_FILE
        one line describing a finished run
    harness.py report RUNS_DIR
        the tables of medians, the ratios, the targets, and last the one
        line of JSON; exits 1 when a check failed

It reuses bench/e2e/harness.py (metrics, run files, wrk's line, medians)
and bench/ingest/harness.py (process checks). A run file holds key=value
lines written by scripts/bench-delivery. MB is 10^6 bytes; VmRSS and
VmHWM are in KiB.
"""

import importlib.util
import json
import pathlib
import re
import signal
import socket
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


e2e = load("e2e_harness", HERE.parent / "e2e" / "harness.py")
ingest = load("ingest_harness", HERE.parent / "ingest" / "harness.py")

# What the figures are compared with (docs/BENCHMARKS.md, "Delivery").
TARGET_ISOLATION_RATIO = 0.90
TARGET_RSS_RATIO = 1.10

# How often watch-drain and wait-accepted look.
POLL_S = 0.05

UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9,
         "TB": 10**12, "KIB": 2**10, "MIB": 2**20, "GIB": 2**30,
         "TIB": 2**40}


def size(text):
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", text)
    if not found or found.group(2).upper() not in UNITS:
        sys.exit(f"harness: '{text}' is not a size (e.g. 10MB, 10GB, "
                 "512MiB)")
    value = float(found.group(1)) * UNITS[found.group(2).upper()]
    if value < 1:
        sys.exit(f"harness: '{text}' is less than a byte")
    print(int(value))


# ------------------------------------------------------- receivers --


def receivers(stall_s):
    sys.path.insert(0, str(HERE.parent.parent / "tests" / "system"))
    from receiver import Receiver

    stalled = Receiver()
    stalled.respond(delay=stall_s)
    # Bound and never listening: a connection is refused (RST) at once,
    # and no other process can take the port while this one holds it.
    down = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    down.bind(("127.0.0.1", 0))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    print(f"stalled={stalled.url} "
          f"down=http://127.0.0.1:{down.getsockname()[1]}/hook", flush=True)
    while not stop:
        # Nothing to wait on but the signal; the server runs in a thread.
        signal.pause()
    down.close()
    # Answers still stalling sleep in daemon threads, which exit with us.
    stalled.close()


# ---------------------------------------------------------- polling --


def accepted(url):
    return int(e2e.dest_values(url, "-")["accepted"] or 0)


def wait_accepted(url, count, pid, idle_s):
    last, last_change = -1, time.monotonic()
    while True:
        now_accepted = accepted(url)
        if now_accepted != last:
            last, last_change = now_accepted, time.monotonic()
        if (now_accepted >= count or not ingest.pid_alive(pid)
                or time.monotonic() - last_change > idle_s):
            break
        # The count is a counter read on demand; nothing to wait on.
        time.sleep(POLL_S)
    print(f"accepted={last}")


def vm_rss_kb(pid):
    status = pathlib.Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"^VmRSS:\s+(\d+)", status, re.M)
    return int(found.group(1)) if found else 0


def watch_drain(url, dest, pid, seconds):
    start = time.monotonic()
    first = None
    max_rss = 0
    while True:
        values = e2e.dest_values(url, dest)
        max_rss = max(max_rss, vm_rss_kb(pid))
        now = time.monotonic() - start
        if first is None and int(values.get("delivered") or 0) > 0:
            first = now
        if values.get("lag") == "0":
            break
        if now > seconds:
            sys.exit(f"harness: {dest} still {values.get('lag')} events "
                     f"behind after {seconds} s")
        # Lag and RSS are read on demand; nothing to wait on but time.
        time.sleep(POLL_S)
    print(f"first_s={first if first is not None else now:.3f}")
    print(f"s={now:.3f}")
    for key, value in values.items():
        print(f"{key}={value}")
    print(f"max_rss_kb={max_rss}")


def log_total(path):
    total = json.loads(pathlib.Path(path).read_text())["total"]
    print(f"log_records={total['records']}")
    print(f"log_bytes={total['bytes']}")


# ------------------------------------------------------------- runs --


def number(kv, key):
    return int(kv.get(key) or 0)


def read_isolation(kv, run):
    wrk = e2e.wrk_line(kv["wrk_output"], "ingest-wrk")
    window = float(kv["t1"]) - float(kv["t0"])
    run["ingest_events_per_s"] = (wrk["ok"] * int(kv["events"])
                                  / wrk["duration_s"])
    run["bad"] = (wrk["non2xx"] + wrk["connect_errors"] + wrk["read_errors"]
                  + wrk["write_errors"] + wrk["timeouts"])
    run["p99_ms"] = wrk["p99_ms"]
    run["accepted"] = number(kv, "end_accepted") - number(kv,
                                                          "start_accepted")
    in_window = number(kv, "end_delivered") - number(kv, "start_delivered")
    total = number(kv, "drained_delivered") - number(kv, "start_delivered")
    run["delivered_per_s"] = in_window / window
    run["lag_at_end"] = number(kv, "end_lag")
    run["drain_s"] = float(kv["drained_s"])
    run["total_delivered"] = total
    run["dead"] = number(kv, "drained_dead")
    run["retried"] = number(kv, "drained_retried")
    # At least once: every accepted event arrives, duplicates allowed.
    run["complete"] = total >= run["accepted"] and run["dead"] == 0
    run["other"] = {key: number(kv, f"other_{key}")
                    for key in ("delivered", "lag", "dead", "retried")}
    run["cores"] = ((float(kv["ticks1"]) - float(kv["ticks0"]))
                    / float(kv["clk_tck"]) / window)


def read_memory(kv, run):
    run["target_mb"] = int(kv["target_bytes"]) / 1e6
    run["backlog_mb"] = int(kv["log_bytes"]) / 1e6
    run["records"] = int(kv["log_records"])
    run["fill_s"] = float(kv["fill_s"])
    run["start_rss_mb"] = int(kv["start_vmrss_kb"]) * 1024 / 1e6
    run["start_hwm_mb"] = int(kv["start_vmhwm_kb"]) * 1024 / 1e6
    run["max_sampled_rss_mb"] = int(kv["drained_max_rss_kb"]) * 1024 / 1e6
    delivered = number(kv, "drained_delivered")
    drain = float(kv["drained_s"])
    busy = drain - float(kv["drained_first_s"])
    run["drain_s"] = drain
    run["drain_events_per_s"] = delivered / busy if busy > 0 else None
    run["drain_mb_per_s"] = (run["backlog_mb"] / busy if busy > 0 else None)
    run["delivered"] = delivered
    run["dead"] = number(kv, "drained_dead")
    run["complete"] = delivered >= run["records"] and run["dead"] == 0
    run["cores"] = ((float(kv["ticks1"]) - float(kv["ticks0"]))
                    / float(kv["clk_tck"]) / drain if drain > 0 else 0.0)


def read_run(path):
    kv = e2e.read_kv(path)
    run = {"kind": kv["kind"], "mode": kv["mode"], "rep": int(kv["rep"]),
           "kv": kv}
    run["rss_mb"] = int(kv["vmhwm_kb"]) * 1024 / 1e6
    if kv["kind"] == "isolation":
        read_isolation(kv, run)
    else:
        read_memory(kv, run)
    return run


def run_line(run):
    if run["kind"] == "memory":
        rate = run["drain_events_per_s"]
        return (f"run memory {run['mode']:<5}: backlog "
                f"{run['backlog_mb']:,.1f} MB ({run['records']:,} events, "
                f"filled in {run['fill_s']:.1f} s); after the start "
                f"VmRSS {run['start_rss_mb']:.1f} MB; drained in "
                f"{run['drain_s']:.2f} s"
                + (f" at {rate:,.0f} events/s" if rate else "")
                + f" ({run['delivered']:,} delivered, "
                f"{'ok' if run['complete'] else 'MISSING EVENTS'}); "
                f"VmHWM {run['rss_mb']:.1f} MB; trackway CPU "
                f"{run['cores']:.2f} cores")
    o = run["other"]
    text = (f"run isolation {run['mode']:<7} rep={run['rep']}: ingest "
            f"{run['ingest_events_per_s']:,.0f} events/s, not 2xx or failed "
            f"{run['bad']}; healthy destination delivered "
            f"{run['delivered_per_s']:,.0f} events/s while sending, "
            f"{run['lag_at_end']:,} behind at the end, drained in "
            f"{run['drain_s']:.2f} s ({run['total_delivered']:,} for "
            f"{run['accepted']:,} accepted, "
            f"{'ok' if run['complete'] else 'MISSING EVENTS'})")
    if run["mode"] != "alone":
        text += (f"; {run['mode']} destination: {o['delivered']:,} "
                 f"delivered, {o['lag']:,} behind, {o['retried']} batches "
                 f"retried, {o['dead']} dead-lettered")
    text += (f"; trackway CPU {run['cores']:.2f} cores, VmHWM "
             f"{run['rss_mb']:.1f} MB")
    return text


def med(runs, key):
    return statistics.median(r[key] for r in runs) if runs else None


def ratios_per_rep(group, alone, key):
    base = {r["rep"]: r[key] for r in alone}
    return [r[key] / base[r["rep"]] for r in sorted(group,
                                                    key=lambda r: r["rep"])
            if base.get(r["rep"])]


def verdict(ok):
    return "met" if ok else "MISSED"


def report_isolation(runs, figures):
    modes = {m: [r for r in runs if r["mode"] == m]
             for m in ("alone", "stalled", "down")}
    alone = modes["alone"]
    if not alone:
        return
    print("\nisolation (wrk at peak, medians); delivered = the healthy "
          "destination's events delivered while wrk ran, over that time")
    print(f"{'beside':<8} {'runs':>4} {'ingest ev/s':>12} "
          f"{'delivered ev/s':>14} {'ratio':>6} {'ingest ratio':>12} "
          f"{'drain s':>7} {'p99 ms':>7} {'CPU':>5} {'RSS MB':>7}")
    base = med(alone, "delivered_per_s")
    base_ingest = med(alone, "ingest_events_per_s")
    for mode, group in modes.items():
        if not group:
            continue
        d = med(group, "delivered_per_s")
        i = med(group, "ingest_events_per_s")
        print(f"{'nothing' if mode == 'alone' else mode:<8} {len(group):>4} "
              f"{i:12,.0f} {d:14,.0f} {d / base:6.3f} "
              f"{i / base_ingest:12.3f} {med(group, 'drain_s'):7.2f} "
              f"{med(group, 'p99_ms'):7.2f} {med(group, 'cores'):5.2f} "
              f"{max(r['rss_mb'] for r in group):7.1f}")
    figures["alone_events_per_s"] = base
    figures["ingest_alone_events_per_s"] = base_ingest
    for mode in ("stalled", "down"):
        group = modes[mode]
        if not group:
            continue
        d = med(group, "delivered_per_s")
        per_rep = ratios_per_rep(group, alone, "delivered_per_s")
        ingest_rep = ratios_per_rep(group, alone, "ingest_events_per_s")
        figures[f"beside_{mode}_events_per_s"] = d
        figures[f"{mode}_ratio"] = d / base
        figures[f"ingest_beside_{mode}_events_per_s"] = med(
            group, "ingest_events_per_s")
        figures[f"{mode}_ingest_ratio"] = (
            figures[f"ingest_beside_{mode}_events_per_s"] / base_ingest)
        print(f"beside {mode}: delivered ratio {d / base:.3f} of the "
              f"medians, per repeat "
              f"{', '.join(f'{x:.3f}' for x in per_rep)} (median "
              f"{statistics.median(per_rep):.3f}); ingest ratio per repeat "
              f"{', '.join(f'{x:.3f}' for x in ingest_rep)}")
        other = [r["other"] for r in group]
        print(f"  the {mode} destination per run: delivered "
              f"{', '.join(str(o['delivered']) for o in other)}; batches "
              f"retried {', '.join(str(o['retried']) for o in other)}; "
              f"dead-lettered {', '.join(str(o['dead']) for o in other)}")


def report_memory(runs, figures):
    if not runs:
        return
    print("\nmemory while a backlog drains (a fresh server, the destination "
          "resumed after the start)")
    print(f"{'backlog':<7} {'MB':>10} {'events':>12} {'fill s':>7} "
          f"{'start RSS':>9} {'peak RSS':>8} {'drain s':>8} "
          f"{'events/s':>10} {'MB/s':>7} {'CPU':>5}")
    for run in sorted(runs, key=lambda r: r["backlog_mb"]):
        rate = run["drain_events_per_s"]
        mbs = run["drain_mb_per_s"]
        print(f"{run['mode']:<7} {run['backlog_mb']:10,.1f} "
              f"{run['records']:12,} {run['fill_s']:7.1f} "
              f"{run['start_rss_mb']:9.1f} {run['rss_mb']:8.1f} "
              f"{run['drain_s']:8.2f} "
              f"{f'{rate:,.0f}' if rate else '-':>10} "
              f"{f'{mbs:,.1f}' if mbs else '-':>7} {run['cores']:5.2f}")
    by = {r["mode"]: r for r in runs}
    for mode in ("small", "large"):
        if mode in by:
            figures[f"backlog_{mode}_mb"] = by[mode]["backlog_mb"]
            figures[f"peak_rss_{mode}_mb"] = by[mode]["rss_mb"]
            figures[f"drain_{mode}_s"] = by[mode]["drain_s"]
    if "large" in by:
        figures["drain_large_events_per_s"] = by["large"][
            "drain_events_per_s"]
    if "small" in by and "large" in by:
        figures["rss_ratio"] = by["large"]["rss_mb"] / by["small"]["rss_mb"]
        times = by["large"]["backlog_mb"] / by["small"]["backlog_mb"]
        print(f"peak RSS ratio, large over small: {figures['rss_ratio']:.3f} "
              f"for a backlog {times:,.0f} times larger")


def report(runs_dir):
    runs = [read_run(p) for p in sorted(pathlib.Path(runs_dir).glob("*.run"))]
    if not runs:
        sys.exit("harness: no finished runs to report")
    figures = {}
    report_isolation([r for r in runs if r["kind"] == "isolation"], figures)
    report_memory([r for r in runs if r["kind"] == "memory"], figures)

    print("\ntargets:")
    for mode in ("stalled", "down"):
        if f"{mode}_ratio" in figures:
            r, i = figures[f"{mode}_ratio"], figures[f"{mode}_ingest_ratio"]
            print(f"  beside a {mode} destination the healthy one delivers "
                  f"{r:.3f} of its rate alone (target at least "
                  f"{TARGET_ISOLATION_RATIO:.2f}): "
                  f"{verdict(r >= TARGET_ISOLATION_RATIO)}; ingest {i:.3f} "
                  f"of its rate (target at least "
                  f"{TARGET_ISOLATION_RATIO:.2f}): "
                  f"{verdict(i >= TARGET_ISOLATION_RATIO)}")
    if "rss_ratio" in figures:
        r = figures["rss_ratio"]
        print(f"  peak RSS draining the large backlog {r:.3f} times that of "
              f"the small one (target at most {TARGET_RSS_RATIO:.2f}): "
              f"{verdict(r <= TARGET_RSS_RATIO)}")
    bad = sum(r.get("bad", 0) for r in runs)
    if bad:
        print(f"WARNING: {bad} requests were not answered 2xx or failed")
    incomplete = [r for r in runs if not r["complete"]]
    if incomplete:
        print(f"CHECK FAILED: {len(incomplete)} runs delivered fewer events "
              "than were accepted, or dead-lettered some")

    keys = ["alone_events_per_s", "beside_stalled_events_per_s",
            "beside_down_events_per_s", "stalled_ratio", "down_ratio",
            "ingest_alone_events_per_s", "ingest_beside_stalled_events_per_s",
            "ingest_beside_down_events_per_s", "backlog_small_mb",
            "backlog_large_mb", "peak_rss_small_mb", "peak_rss_large_mb",
            "rss_ratio", "drain_large_events_per_s"]
    digits = {"stalled_ratio": 3, "down_ratio": 3, "rss_ratio": 3,
              "backlog_small_mb": 1, "backlog_large_mb": 1,
              "peak_rss_small_mb": 2, "peak_rss_large_mb": 2}
    line = {"bench": "delivery"}
    for key in keys:
        value = figures.get(key)
        if value is None:
            line[key] = None
        elif key in digits:
            line[key] = round(value, digits[key])
        else:
            line[key] = int(round(value))
    print(json.dumps(line, separators=(",", ":")))
    return 1 if incomplete else 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "size" and len(args) == 1:
        size(args[0])
    elif cmd == "receivers" and len(args) == 1:
        receivers(float(args[0]))
    elif cmd == "wait-accepted" and len(args) == 4:
        wait_accepted(args[0], int(args[1]), int(args[2]), float(args[3]))
    elif cmd == "watch-drain" and len(args) == 4:
        watch_drain(args[0], args[1], int(args[2]), float(args[3]))
    elif cmd == "log-total" and len(args) == 1:
        log_total(args[0])
    elif cmd == "run-line" and len(args) == 1:
        print(run_line(read_run(args[0])))
    elif cmd == "report" and len(args) == 1:
        return report(args[0])
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
