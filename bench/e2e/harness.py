"""Helpers of scripts/bench-e2e, which does the orchestration itself.

    harness.py dest-metrics URL DEST
        delivered=, lag=, dead=, retried= of destination DEST (empty when
        DEST is "-") and accepted= from the collector's /metrics
    harness.py wait-drained URL DEST SECONDS
        returns once DEST's lag is 0 (the lag is computed when /metrics is
        read), printing the key=value lines of dest-metrics and s= (the wait);
        fails after SECONDS
    harness.py tail DIR TAG OUT
        follows the file destination in DIR until SIGTERM: reads each
        <DIR>/events-*.ndjson.active as it grows (and the next one after a
        rotation), notes for each read the CLOCK_MONOTONIC time and the
        messageIds "TAG-THREAD-REQUEST-..." it held, and writes
        "THREAD REQUEST SEEN_NS COUNT" lines to OUT on exit
    harness.py peak-rate RUNS_DIR
        the median ingest-alone events/s of the peak runs so far
    harness.py run-line RUN_FILE
        one line describing a finished run
    harness.py report RUNS_DIR
        the tables of medians, the ratios, the targets, and last the one
        line of JSON; exits 1 when a destination lost events

A run file holds key=value lines written by scripts/bench-e2e. MB is 10^6
bytes; VmHWM is in KiB.
"""

import collections
import glob
import json
import os
import pathlib
import re
import signal
import statistics
import sys
import time
import urllib.request

# What the figures are compared with (docs/BENCHMARKS.md, "End to end").
TARGET_RATIO_TO_INGEST = 0.70
TARGET_P99_ACK_TO_DELIVERED_MS = 100.0

# How often the reader looks at the active file when it has read it all.
TAIL_POLL_S = 0.0005


def scrape(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        text = resp.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = value
    return values


def dest_values(url, dest):
    values = scrape(url)
    out = {"accepted": values.get(
        'trackway_events_accepted_total{source="bench"}', "0")}
    if dest != "-":
        label = f'{{destination="{dest}"}}'
        for key, family in (("delivered", "events_delivered_total"),
                            ("lag", "lag_events"),
                            ("dead", "events_dead_total"),
                            ("retried", "batches_retried_total")):
            out[key] = values.get(f"trackway_dest_{family}{label}", "")
    return out


def dest_metrics(url, dest):
    for key, value in dest_values(url, dest).items():
        print(f"{key}={value}")


def wait_drained(url, dest, seconds):
    start = time.monotonic()
    while True:
        values = dest_values(url, dest)
        if dest == "-" or values.get("lag") == "0":
            break
        if time.monotonic() - start > seconds:
            sys.exit(f"harness: {dest} still {values.get('lag')} events "
                     f"behind after {seconds} s")
        # The lag is a gauge read on demand; nothing to wait on but time.
        time.sleep(0.05)
    for key, value in values.items():
        print(f"{key}={value}")
    print(f"s={time.monotonic() - start:.3f}")


# ------------------------------------------------------------- tail --


def active_files(directory):
    return sorted(glob.glob(os.path.join(directory, "events-*.ndjson.active")))


def tail(directory, tag, out_path):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    pattern = re.compile(rb'"messageId":"' + re.escape(tag.encode())
                         + rb'-(\d+)-(\d+)-')
    seen = []          # (seen_ns, Counter of (thread, request))
    current = None     # (name, file)
    rest = b""
    while True:
        stopping = bool(stop)
        if current is None:
            names = active_files(directory)
            if names:
                current = (names[0], open(names[0], "rb"))
                rest = b""
        if current is not None:
            chunk = current[1].read()
            now = time.monotonic_ns()
            if chunk:
                data = rest + chunk
                cut = data.rfind(b"\n") + 1
                rest = data[cut:]
                keys = pattern.findall(data, 0, cut)
                if keys:
                    seen.append((now, collections.Counter(keys)))
                continue
            # At the end of this file: a newer one means it was rotated,
            # and what was written before the rotation has been read.
            newer = [n for n in active_files(directory) if n > current[0]]
            if newer:
                current[1].close()
                current = None
                continue
        if stopping:
            break
        time.sleep(TAIL_POLL_S)
    with open(out_path, "w") as out:
        for now, counts in seen:
            for (thread, request), n in counts.items():
                out.write(f"{int(thread)} {int(request)} {now} {n}\n")


# ------------------------------------------------------------- runs --


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = min(len(sorted_values) - 1, int(q / 100.0 * len(sorted_values)))
    return sorted_values[i]


def weighted_percentiles(pairs, qs):
    """pairs: (value, weight); the value at each q-th percent of weight."""
    pairs = sorted(pairs)
    total = sum(w for _, w in pairs)
    out, acc, k = [], 0, 0
    targets = [q / 100.0 * total for q in qs]
    for value, weight in pairs:
        acc += weight
        while k < len(targets) and acc >= targets[k]:
            out.append(value)
            k += 1
    while len(out) < len(qs):
        out.append(float("nan"))
    return out


def read_kv(path):
    kv = {}
    for line in pathlib.Path(path).read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            kv[key] = value
    return kv


def wrk_line(path, word):
    out = pathlib.Path(path).read_text()
    found = re.search(rf"^{word} (\{{.*\}})$", out, re.M)
    if not found:
        sys.exit(f"harness: no {word} line in {path}:\n{out}")
    return json.loads(found.group(1))


def latency(kv):
    """Ack-to-delivered and send-to-2xx figures of a paced run."""
    acks = {}
    send_to_ack = []
    for path in glob.glob(kv["acks"] + ".*"):
        thread = int(path.rsplit(".", 1)[1])
        for line in pathlib.Path(path).read_text().splitlines():
            req, sent, ack, status = line.split()
            if 200 <= int(status) < 300:
                acks[(thread, int(req))] = int(ack)
                send_to_ack.append((int(ack) - int(sent)) / 1e6)
    pairs, unmatched, early = [], 0, 0
    for line in pathlib.Path(kv["seen"]).read_text().splitlines():
        thread, req, seen, n = (int(x) for x in line.split())
        ack = acks.get((thread, req))
        if ack is None:
            # Its request was still in flight when the sender stopped.
            unmatched += n
            continue
        if seen < ack:
            early += n
        pairs.append(((seen - ack) / 1e6, n))
    p50, p99, p999, pmax = weighted_percentiles(pairs, [50, 99, 99.9, 100])
    send_to_ack.sort()
    return {
        "events_timed": sum(n for _, n in pairs),
        "unmatched": unmatched,
        "seen_before_ack": early,
        "p50_ms": p50, "p99_ms": p99, "p999_ms": p999, "max_ms": pmax,
        "ack_p50_ms": percentile(send_to_ack, 50),
        "ack_p99_ms": percentile(send_to_ack, 99),
    }


def read_run(path):
    kv = read_kv(path)
    run = {"kind": kv["kind"], "mode": kv["mode"], "rep": int(kv["rep"]),
           "kv": kv}
    run["rss_mb"] = int(kv["vmhwm_kb"]) * 1024 / 1e6
    window = float(kv["t1"]) - float(kv["t0"])
    run["accepted"] = int(kv["end_accepted"]) - int(kv["start_accepted"])
    if kv["kind"] == "peak":
        wrk = wrk_line(kv["wrk_output"], "ingest-wrk")
        run["wrk"] = wrk
        run["ingest_events_per_s"] = (wrk["ok"] * int(kv["events"])
                                      / wrk["duration_s"])
        run["bad"] = (wrk["non2xx"] + wrk["connect_errors"]
                      + wrk["read_errors"] + wrk["write_errors"]
                      + wrk["timeouts"])
        run["p99_ms"] = wrk["p99_ms"]
    else:
        wrk = wrk_line(kv["wrk_output"], "pace-wrk")
        run["wrk"] = wrk
        run["ingest_events_per_s"] = (wrk["ok"] * int(kv["events"])
                                      / wrk["duration_s"])
        run["bad"] = wrk["non2xx"] + wrk["socket_errors"] + wrk["timeouts"]
        run["target_events_per_s"] = float(kv["rate_events_per_s"])
        run.update(latency(kv))
    if kv["mode"] != "none":
        in_window = int(kv["end_delivered"]) - int(kv["start_delivered"])
        total = int(kv["drained_delivered"]) - int(kv["start_delivered"])
        run["delivered_per_s"] = in_window / window
        run["delivered_in_window"] = in_window
        run["drain_s"] = float(kv["drained_s"])
        run["drained_per_s"] = total / (window + run["drain_s"])
        run["lag_at_end"] = int(kv["end_lag"])
        run["total_delivered"] = total
        run["dead"] = int(kv.get("drained_dead") or 0)
        run["retried"] = int(kv.get("drained_retried") or 0)
        # At least once: every accepted event arrives, duplicates allowed.
        run["complete"] = total >= run["accepted"] and run["dead"] == 0
    run["cores"] = ((float(kv["ticks1"]) - float(kv["ticks0"]))
                    / float(kv["clk_tck"]) / window)
    return run


def run_line(run):
    text = (f"run {run['kind']} {run['mode']:<4} rep={run['rep']}: ingest "
            f"{run['ingest_events_per_s']:,.0f} events/s")
    if run["kind"] == "paced":
        text += f" (asked {run['target_events_per_s']:,.0f})"
    text += f", not 2xx or failed {run['bad']}"
    if "delivered_per_s" in run:
        text += (f"; delivered {run['delivered_per_s']:,.0f} events/s while "
                 f"sending, {run['lag_at_end']:,} behind at the end, drained "
                 f"in {run['drain_s']:.2f} s ({run['total_delivered']:,} for "
                 f"{run['accepted']:,} accepted, "
                 f"{'ok' if run['complete'] else 'MISSING EVENTS'}")
        if run["retried"] or run["dead"]:
            text += f", {run['retried']} retried, {run['dead']} dead"
        text += ")"
    if run["kind"] == "paced":
        text += (f"; ack to delivered p50 {run['p50_ms']:.2f} ms, p99 "
                 f"{run['p99_ms']:.2f} ms, max {run['max_ms']:.2f} ms over "
                 f"{run['events_timed']:,} events; send to 2xx p50 "
                 f"{run['ack_p50_ms']:.2f} ms, p99 {run['ack_p99_ms']:.2f} ms")
    text += (f"; trackway CPU {run['cores']:.2f} cores, VmHWM "
             f"{run['rss_mb']:.1f} MB")
    return text


def med(runs, key):
    return statistics.median(r[key] for r in runs) if runs else float("nan")


def report(runs_dir):
    runs = [read_run(p) for p in sorted(pathlib.Path(runs_dir).glob("*.run"))]
    if not runs:
        sys.exit("harness: no finished runs to report")
    peak = {m: [r for r in runs if r["kind"] == "peak" and r["mode"] == m]
            for m in ("none", "file", "http")}
    paced = [r for r in runs if r["kind"] == "paced"]

    print("\npeak load (wrk, medians); delivered = events delivered while "
          "wrk ran, over that time")
    print(f"{'destination':<11} {'runs':>4} {'ingest ev/s':>12} "
          f"{'delivered ev/s':>14} {'ratio':>6} {'drain s':>7} "
          f"{'p99 ms':>7} {'CPU':>5} {'RSS MB':>7}")
    ingest = med(peak["none"], "ingest_events_per_s")
    for mode in ("none", "file", "http"):
        group = peak[mode]
        if not group:
            continue
        if mode == "none":
            dl, ratio, drain = "-", "-", "-"
        else:
            d = med(group, "delivered_per_s")
            dl, ratio = f"{d:,.0f}", f"{d / ingest:.3f}"
            drain = f"{med(group, 'drain_s'):.2f}"
        print(f"{mode:<11} {len(group):>4} "
              f"{med(group, 'ingest_events_per_s'):12,.0f} {dl:>14} "
              f"{ratio:>6} {drain:>7} {med(group, 'p99_ms'):7.2f} "
              f"{med(group, 'cores'):5.2f} "
              f"{max(r['rss_mb'] for r in group):7.1f}")

    file_rate = med(peak["file"], "delivered_per_s")
    http_rate = med(peak["http"], "delivered_per_s")
    ratios = [f["delivered_per_s"] / n["ingest_events_per_s"]
              for f, n in zip(sorted(peak["file"], key=lambda r: r["rep"]),
                              sorted(peak["none"], key=lambda r: r["rep"]))]
    ratio = file_rate / ingest
    print(f"ratio to ingest (file destination over ingest alone): "
          f"{ratio:.3f} of the medians; per run "
          f"{', '.join(f'{x:.3f}' for x in ratios)}")

    if paced:
        print("\npaced load (fixed rate, file destination, medians)")
        print(f"{'runs':>4} {'asked ev/s':>11} {'sent ev/s':>10} "
              f"{'ack->dl p50':>11} {'p99':>7} {'p99.9':>7} {'max':>7} "
              f"{'2xx p50':>7} {'2xx p99':>7}")
        print(f"{len(paced):>4} {med(paced, 'target_events_per_s'):11,.0f} "
              f"{med(paced, 'ingest_events_per_s'):10,.0f} "
              f"{med(paced, 'p50_ms'):11.2f} {med(paced, 'p99_ms'):7.2f} "
              f"{med(paced, 'p999_ms'):7.2f} {med(paced, 'max_ms'):7.2f} "
              f"{med(paced, 'ack_p50_ms'):7.2f} "
              f"{med(paced, 'ack_p99_ms'):7.2f}")
    p99 = med(paced, "p99_ms")
    rss = max(r["rss_mb"] for r in runs)
    print(f"\ntargets: file destination {ratio:.2f} of ingest alone "
          f"(target at least {TARGET_RATIO_TO_INGEST:.2f}): "
          f"{'met' if ratio >= TARGET_RATIO_TO_INGEST else 'MISSED'}; "
          f"p99 ack to delivered {p99:.2f} ms at the paced load (target under "
          f"{TARGET_P99_ACK_TO_DELIVERED_MS:.0f} ms): "
          f"{'met' if p99 < TARGET_P99_ACK_TO_DELIVERED_MS else 'MISSED'}; "
          f"peak RSS {rss:.1f} MB over all runs")
    incomplete = [r for r in runs if r.get("complete") is False]
    bad = sum(r["bad"] for r in runs)
    if bad:
        print(f"WARNING: {bad} requests were not answered 2xx or failed")
    if incomplete:
        print(f"CHECK FAILED: {len(incomplete)} runs delivered fewer events "
              "than were accepted")
    print(json.dumps({
        "bench": "e2e",
        "ingest_events_per_s": round(ingest),
        "file_events_per_s": round(file_rate),
        "http_events_per_s": round(http_rate),
        "ratio_to_ingest": round(ratio, 3),
        "p99_ack_to_delivered_ms": round(p99, 2),
        "peak_rss_mb": round(rss, 2),
    }, separators=(",", ":")))
    return 1 if incomplete else 0


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    cmd, args = argv[1], argv[2:]
    if cmd == "dest-metrics" and len(args) == 2:
        dest_metrics(*args)
    elif cmd == "wait-drained" and len(args) == 3:
        wait_drained(args[0], args[1], float(args[2]))
    elif cmd == "tail" and len(args) == 3:
        tail(*args)
    elif cmd == "peak-rate" and len(args) == 1:
        runs = [read_run(p) for p in pathlib.Path(args[0]).glob("*.run")]
        alone = [r for r in runs if r["kind"] == "peak" and r["mode"] == "none"]
        if not alone:
            sys.exit("harness: no ingest-alone run to take the peak from")
        print(round(med(alone, "ingest_events_per_s")))
    elif cmd == "run-line" and len(args) == 1:
        print(run_line(read_run(args[0])))
    elif cmd == "report" and len(args) == 1:
        return report(args[0])
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
