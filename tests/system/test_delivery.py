"""Delivery over real sockets and files: `trackway serve` with file and
HTTP destinations, a real webhook receiver (receiver.py) that can fail,
stall and answer 429/5xx on command, and the logs read back with the
binary's own commands."""

import json
import os
import re
import socket
import time

import pytest

from collector import Collector, default_config, track
from receiver import Receiver


def file_events(folder):
    """Every event line in a file destination's folder (plain files)."""
    events = []
    for path in sorted(folder.glob("*.ndjson*")):
        if path.name.endswith((".ndjson", ".ndjson.active")):
            events += [json.loads(line) for line in
                       path.read_text().splitlines() if line]
    return events


def wait_until(check, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)  # polling a file the server writes: no event
    return check()


@pytest.fixture
def receivers():
    made = []

    def make():
        r = Receiver()
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


def delivery_config(tmp_path, hooks, **dest_settings):
    config = default_config(tmp_path / "data")
    config["destinations"] = [
        {"name": "lake", "type": "file", "path": str(tmp_path / "lake"),
         "batch": {"max_wait": "20ms"}}]
    for name, hook in hooks.items():
        d = {"name": name, "type": "http", "url": hook.url,
             "batch": {"max_events": 50, "max_wait": "20ms"},
             "retry": {"max_attempts": 4, "backoff": "20ms..200ms"}}
        d.update(dest_settings.get(name, {}))
        config["destinations"].append(d)
    config["routes"] = [{"from": "web", "to": ["lake"] + list(hooks)}]
    return config


def test_every_accepted_event_reaches_every_routed_destination(
        trackway_bin, tmp_path, receivers):
    hook = receivers()
    c = Collector(trackway_bin, tmp_path,
                  delivery_config(tmp_path, {"hook": hook}))
    with c:
        sent = [track(user=f"u{i % 7}") for i in range(300)]
        for i in range(0, 300, 30):
            assert c.batch(sent[i:i + 30]).status == 200
        assert hook.wait_for(300)
        assert wait_until(lambda: len(file_events(tmp_path / "lake")) >= 300)

        # The file sink's group commit is visible: every batch it
        # acknowledged was made durable by a sync, none without one.
        def file_batches_synced():
            m = c.metrics()
            ok = m['trackway_sink_batches_total{destination="lake",'
                   'outcome="ok"}']
            synced = m['trackway_sink_file_batches_synced_total'
                       '{destination="lake"}']
            syncs = m['trackway_sink_file_syncs_total{destination="lake"}']
            return ok == synced > 0 and 1 <= syncs <= synced
        assert wait_until(file_batches_synced)
    ids = {m["messageId"] for m in sent}
    assert {e["messageId"] for e in hook.events} == ids
    assert {e["messageId"] for e in file_events(tmp_path / "lake")} == ids
    # Every webhook batch carried an idempotency key.
    assert all(r["headers"].get("Idempotency-Key") for r in hook.requests)


def test_threads_are_named_after_their_work(trackway_bin, tmp_path,
                                            receivers):
    hook = receivers()
    c = Collector(trackway_bin, tmp_path,
                  delivery_config(tmp_path, {"hook": hook}))
    # OPERATIONS.md lists them for top -H: one delivery thread per
    # destination, a writer per log (events, failed, two dead-letter logs).
    # The server says it listens once its sockets are bound; the HTTP
    # workers name themselves when they first run, which may be later.
    expected = {"tw-deliver": 2, "tw-sink-file": 1, "tw-sink-http": 1,
                "tw-log-writer": 4}
    names = []

    def named():
        names[:] = []
        tasks = f"/proc/{c.proc.pid}/task"
        for tid in os.listdir(tasks):
            with open(f"{tasks}/{tid}/comm") as f:
                names.append(f.read().strip())
        return ("tw-log-sync" in names and "MHD-worker" in names and
                all(names.count(k) == n for k, n in expected.items()))

    with c:
        wait_until(named)
    for name, count in expected.items():
        assert names.count(name) == count, names
    assert "tw-log-sync" in names and "MHD-worker" in names, names


def test_order_per_user_is_kept_at_the_destination(trackway_bin, tmp_path,
                                                   receivers):
    hook = receivers()
    c = Collector(trackway_bin, tmp_path,
                  delivery_config(tmp_path, {"hook": hook}))
    with c:
        for i in range(0, 200, 20):
            c.batch([track(user=f"u{n % 3}", properties={"n": n})
                     for n in range(i, i + 20)])
        assert hook.wait_for(200)
    for user in ("u0", "u1", "u2"):
        seen = [e["properties"]["n"] for e in hook.events
                if e["userId"] == user]
        assert seen == sorted(seen)


def test_a_filter_sends_only_matching_events(trackway_bin, tmp_path,
                                             receivers, run_trackway):
    hook = receivers()
    config = delivery_config(tmp_path, {})
    config["destinations"].append(
        {"name": "orders", "type": "http", "url": hook.url,
         "batch": {"max_wait": "20ms"}})
    config["routes"].append({"from": "*", "to": ["orders"],
                             "where": 'event == "Order Completed" and '
                                      'properties.total >= 100'})
    c = Collector(trackway_bin, tmp_path, config)
    with c:
        big = track(event="Order Completed", properties={"total": 150})
        small = track(event="Order Completed", properties={"total": 5})
        c.batch([big, small, track(event="Signed Up")])
        assert hook.wait_for(1)
        assert wait_until(lambda: len(file_events(tmp_path / "lake")) >= 3)
        out = run_trackway("trace", "-c", c.config_path,
                           small["messageId"]).stdout
        assert "orders           not sent: no route's filter matches" in out
        out = run_trackway("trace", "-c", c.config_path,
                           big["messageId"]).stdout
        assert wait_until(lambda: "orders           delivered" in run_trackway(
            "trace", "-c", c.config_path, big["messageId"]).stdout), out
    assert [e["properties"]["total"] for e in hook.events] == [150]


def test_a_retry_honours_retry_after_and_delivers_once_accepted(
        trackway_bin, tmp_path, receivers):
    hook = receivers()
    hook.respond(status=503, retry_after=1)
    c = Collector(trackway_bin, tmp_path,
                  delivery_config(tmp_path, {"hook": hook}))
    with c:
        msg = track()
        c.batch([msg])
        assert wait_until(lambda: len(hook.requests) >= 1)
        hook.respond()
        assert hook.wait_for(1)
        m = c.metrics()
        assert m['trackway_sink_batches_total{destination="hook",'
                 'outcome="retry"}'] >= 1
        assert wait_until(lambda: c.metrics()[
            'trackway_sink_batches_total{destination="hook",'
            'outcome="ok"}'] == 1)
    first, later = hook.requests[0], hook.requests[-1]
    assert later["time"] - first["time"] >= 0.95, "Retry-After: 1 waited"
    assert later["headers"]["Idempotency-Key"] == \
        first["headers"]["Idempotency-Key"]
    assert [e["messageId"] for e in hook.events] == [msg["messageId"]]


def test_a_4xx_goes_to_the_dead_letter_log_and_trace_says_so(
        trackway_bin, tmp_path, receivers, run_trackway):
    hook = receivers()
    hook.script([422])
    c = Collector(trackway_bin, tmp_path,
                  delivery_config(tmp_path, {"hook": hook}))
    with c:
        bad = track(messageId="dead-1")
        c.batch([bad])
        assert wait_until(lambda: len(hook.requests) >= 1)
        good = track(messageId="alive-1")
        c.batch([good])
        assert hook.wait_for(1)
        trace = run_trackway("trace", "-c", c.config_path, "dead-1").stdout
        assert wait_until(lambda: re.search(
            r"hook +dead-lettered at \d{4}-\d\d-\d\dT[\d:.]+Z: rejected "
            r"after 1 attempts: .*422", run_trackway(
                "trace", "-c", c.config_path, "dead-1").stdout)), trace
        trace = run_trackway("trace", "-c", c.config_path, "alive-1").stdout
        assert "hook             delivered" in trace
        assert "lake             delivered" in trace
        ls = run_trackway("dlq", "ls", "-c", c.config_path, "hook").stdout
        assert "dead-1" in ls and "rejected" in ls and "422" in ls
        show = run_trackway("dlq", "show", "-c", c.config_path, "hook",
                            "0").stdout
        assert "reason:       rejected" in show
        assert '"messageId":"dead-1"' in show
        none = run_trackway("dlq", "ls", "-c", c.config_path, "lake").stdout
        assert none.strip() == "no dead letters"
        assert [e["messageId"] for e in hook.events] == ["alive-1"]
        # The receiver is fixed (its script ran out): send the letter again.
        out = run_trackway("dlq", "replay", "-c", c.config_path, "hook",
                           timeout=120).stdout
        assert "replay of hook ended" in out
        assert hook.wait_for(2)
    assert [e["messageId"] for e in hook.events] == ["alive-1", "dead-1"]
    assert all(hook.events[1][k] == v for k, v in bad.items()), \
        "the dead letter went again as it was first sent"


def test_trace_says_delivered_when_retrying_after_what_and_being_sent(
        trackway_bin, tmp_path, receivers, run_trackway):
    failing, stalled = receivers(), receivers()
    failing.respond(status=503, retry_after=120)
    stalled.respond(delay=8)
    c = Collector(trackway_bin, tmp_path,
                  delivery_config(tmp_path, {"failing": failing,
                                             "stalled": stalled}))
    with c:
        c.batch([track(messageId="where-1")])
        assert wait_until(lambda: failing.requests and stalled.in_flight)

        def trace():
            return run_trackway("trace", "-c", c.config_path,
                                "where-1").stdout
        # The status file is written once a second: wait for it to say.
        stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"
        assert wait_until(lambda: re.search(
            r"lake +delivered at " + stamp, trace())), trace()
        assert wait_until(lambda: re.search(
            r"failing +retrying: attempt 1 failed \(status 503: .*\); "
            r"next try at " + stamp, trace())), trace()
        assert re.search(r"stalled +being sent: attempt 1\n", trace()), \
            trace()
        # Nothing is lost by the wait: the stalled one takes it at last.
        assert stalled.wait_for(1)
        assert wait_until(lambda: re.search(
            r"stalled +delivered at " + stamp, trace())), trace()
    assert [e["messageId"] for e in stalled.events] == ["where-1"]


def test_trace_still_says_when_an_event_was_delivered_after_a_restart(
        trackway_bin, tmp_path, run_trackway):
    config = delivery_config(tmp_path, {})
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z"

    def trace(c, message_id):
        return run_trackway("trace", "-c", c.config_path,
                            message_id).stdout

    def delivered_at(c, message_id):
        found = []

        def says():
            match = re.search(r"lake +delivered at (" + stamp + ")",
                              trace(c, message_id))
            found[:] = [match.group(1)] if match else []
            return bool(found)
        assert wait_until(says), trace(c, message_id)
        return found[0]

    c = Collector(trackway_bin, tmp_path, config)
    with c:
        c.batch([track(messageId="before-restart")])
        first = delivered_at(c, "before-restart")
    c = Collector(trackway_bin, tmp_path, config)
    with c:
        c.batch([track(messageId="after-restart")])
        delivered_at(c, "after-restart")
        # The new run wrote its own status; the old delivery time is in
        # it, not lost with the old process.
        assert delivered_at(c, "before-restart") == first


def test_a_status_file_that_cannot_be_written_is_counted_and_logged(
        trackway_bin, tmp_path):
    control = tmp_path / "data" / "control"
    metric = 'trackway_dest_status_write_failures_total{destination="lake"}'
    c = Collector(trackway_bin, tmp_path, delivery_config(tmp_path, {}))
    with c:
        assert wait_until(lambda: (control / "lake.status").exists())
        assert c.metrics()[metric] == 0
        # A directory where the server writes its temporary file: the
        # rename-into-place cannot start, whoever runs the test.
        (control / "lake.status.tmp").mkdir()
        assert wait_until(lambda: c.metrics()[metric] >= 1)
        assert "cannot write a destination's status" in c.stderr_text()
        c.batch([track(messageId="still-delivered")])
        assert wait_until(lambda: "still-delivered" in {
            e["messageId"] for e in file_events(tmp_path / "lake")})
        (control / "lake.status.tmp").rmdir()
        failures = c.metrics()[metric]
        before = (control / "lake.status").stat().st_mtime_ns
        assert wait_until(
            lambda: (control / "lake.status").stat().st_mtime_ns > before)
        assert c.metrics()[metric] <= failures + 1


def test_a_stalled_and_a_down_destination_do_not_hold_up_a_healthy_one(
        trackway_bin, tmp_path, receivers):
    slow, fast = receivers(), receivers()
    slow.respond(delay=5)
    down = socket.socket()  # bound, never listening: connections refused
    down.bind(("127.0.0.1", 0))
    config = delivery_config(tmp_path, {"slow": slow, "fast": fast})
    config["destinations"].append(
        {"name": "down", "type": "http",
         "url": f"http://127.0.0.1:{down.getsockname()[1]}/hook",
         "retry": {"backoff": "20ms..200ms"}})
    config["routes"][0]["to"].append("down")
    c = Collector(trackway_bin, tmp_path, config)
    with c:
        sent = [track(user=f"u{i}") for i in range(200)]
        for i in range(0, 200, 20):
            assert c.batch(sent[i:i + 20]).status == 200
        assert fast.wait_for(200, timeout=10)
        # Everything reached the healthy one while the stalled one had
        # not answered its first request yet and the down one none.
        assert slow.requests == [] and slow.in_flight >= 1
        m = c.metrics()
        assert m['trackway_dest_events_delivered_total{destination="down"}'] \
            == 0
        assert wait_until(lambda: c.metrics()[
            'trackway_sink_batches_total{destination="down",'
            'outcome="retry"}'] >= 1)
        slow.respond()
        assert slow.wait_for(200, timeout=60)
    down.close()
    assert {e["messageId"] for e in fast.events} == \
        {m["messageId"] for m in sent}


def test_a_restart_resumes_delivery_without_losing_events(
        trackway_bin, tmp_path, receivers):
    hook = receivers()
    config = delivery_config(tmp_path, {"hook": hook})
    sent = [track(user=f"u{i}") for i in range(100)]
    c = Collector(trackway_bin, tmp_path, config)
    with c:
        hook.respond(status=503)
        for i in range(0, 100, 10):
            c.batch(sent[i:i + 10])
    hook.respond()
    c = Collector(trackway_bin, tmp_path, config)
    with c:
        assert hook.wait_for(100)
        m = c.metrics()
        assert m['trackway_dest_lag_events{destination="hook"}'] >= 0
    assert {e["messageId"] for e in hook.events} == \
        {m["messageId"] for m in sent}


def test_shaping_applies_on_delivery_and_never_to_the_stored_event(
        trackway_bin, tmp_path, receivers):
    hook = receivers()
    shape = {"drop": ["context.ip"],
             "rename": {"properties.total": "amount"},
             "redact": {"hash": ["userId"], "key": "0123456789abcdef0123"}}
    c = Collector(trackway_bin, tmp_path, delivery_config(
        tmp_path, {"hook": hook}, hook={"shape": shape}))
    with c:
        c.batch([track(user="alice", properties={"total": 9.5}),
                 track(user="alice", properties={"total": 1.0})])
        assert hook.wait_for(2)
        stored = c.events()
    first, second = hook.events
    assert "ip" not in first["context"]
    assert first["amount"] == 9.5 and "total" not in first["properties"]
    assert first["userId"] != "alice" and len(first["userId"]) >= 32
    assert first["userId"] == second["userId"], "the same key, the same hash"
    assert all(e["userId"] == "alice" and e["context"]["ip"] == "127.0.0.1"
               for e in stored)


def test_check_reports_a_bad_filter_with_its_line_and_column(
        trackway_bin, tmp_path, run_trackway):
    config = delivery_config(tmp_path, {})
    config["routes"][0]["where"] = 'event == "A" and and'
    c = Collector(trackway_bin, tmp_path, config)
    result = run_trackway("check", c.config_path, check=False)
    assert result.returncode == 1
    assert f"{c.config_path}:" in result.stderr
    assert "route filter" in result.stderr


def test_pausing_a_destination_keeps_its_place_and_resume_delivers(
        trackway_bin, tmp_path, receivers, run_trackway):
    hook = receivers()
    c = Collector(trackway_bin, tmp_path,
                  delivery_config(tmp_path, {"hook": hook}))
    with c:
        c.batch([track()])
        assert hook.wait_for(1)
        out = run_trackway("dest", "pause", "-c", c.config_path, "hook")
        assert "pauses within a second" in out.stdout
        m = 'trackway_dest_paused{destination="hook"}'
        assert wait_until(lambda: c.metrics()[m] == 1)
        c.batch([track(messageId="paused-1"), track()])
        assert wait_until(lambda: len(file_events(tmp_path / "lake")) >= 3)

        def trace():
            return run_trackway("trace", "-c", c.config_path,
                                "paused-1").stdout
        assert wait_until(lambda: re.search(
            r"hook +pending: \d+ events of partition \d+ before it; "
            r"destination paused\n", trace())), trace()
        ls = run_trackway("dest", "ls", "-c", c.config_path).stdout
        hook_row = next(r for r in ls.splitlines() if r.startswith("hook"))
        assert hook_row.split()[2:4] == ["paused", "2"], ls
        assert len(hook.events) == 1
        run_trackway("dest", "resume", "-c", c.config_path, "hook")
        assert hook.wait_for(3)
        assert c.metrics()[m] == 0
    assert len(hook.events) == 3


def test_replay_redelivers_a_slice_beside_live_traffic(
        trackway_bin, tmp_path, receivers, run_trackway):
    hook = receivers()
    c = Collector(trackway_bin, tmp_path,
                  delivery_config(tmp_path, {"hook": hook}))
    with c:
        sent = [track(properties={"n": i}) for i in range(20)]
        c.batch(sent)
        assert hook.wait_for(20)
        out = run_trackway("replay", "-c", c.config_path, "hook", "--from",
                           "0", "--where", "properties.n < 5",
                           timeout=120).stdout
        assert "replay of hook ended" in out
        c.batch([track(properties={"n": 100})])
        assert hook.wait_for(26)
        again = run_trackway("replay", "-c", c.config_path, "hook", "--from",
                             "2020-01-01T00:00:00Z", "--to", "0").stdout
        assert "nothing to replay" in again
    replayed = [e for e in hook.events[20:] if e["properties"]["n"] < 5]
    assert sorted(e["properties"]["n"] for e in replayed) == [0, 1, 2, 3, 4]
    originals = {m["messageId"] for m in sent}
    assert all(e["messageId"] in originals for e in replayed), \
        "replayed events keep their messageId"


def test_a_replay_keeps_its_rate_carries_on_after_a_restart_and_cancels(
        trackway_bin, tmp_path, receivers, run_trackway):
    hook = receivers()
    config = delivery_config(tmp_path, {"hook": hook})
    sent = [track(properties={"n": i}) for i in range(300)]  # one user

    def replayed():
        return hook.events[300:]

    def metric(name):
        return c.metrics()[f'trackway_dest_{name}{{destination="hook"}}']
    c = Collector(trackway_bin, tmp_path, config)
    with c:
        c.batch(sent[:150])
        c.batch(sent[150:])
        assert hook.wait_for(300)
        out = run_trackway("replay", "-c", c.config_path, "hook", "--from",
                           "0", "--rate", "20", "--no-wait").stdout
        assert "replay of hook: 300 offsets" in out, out
        assert wait_until(lambda: len(replayed()) >= 10)
        # At 20 events a second the 300 take 15 s: it is far from done.
        assert metric("replay_active") == 1
        assert metric("replay_remaining_offsets") > 0
        assert metric("events_replayed_total") <= len(replayed())
    before_restart = len(replayed())
    assert before_restart < 300

    c = Collector(trackway_bin, tmp_path, config)
    with c:
        assert wait_until(lambda: len(replayed()) >= before_restart + 10)
        # It went on from its own cursor, not from the start again.
        assert replayed()[before_restart]["properties"]["n"] > 0
        out = run_trackway("replay", "-c", c.config_path, "hook",
                           "--cancel").stdout
        assert "stops after its batches in flight" in out
        assert wait_until(lambda: metric("replay_active") == 0)
        assert metric("replays_total") == 1
        stopped_at = len(replayed())
        c.batch([track(messageId="after-cancel")])
        assert hook.wait_for(300 + stopped_at + 1)
        again = run_trackway("replay", "-c", c.config_path, "hook",
                             "--cancel").stdout
        assert "no replay of hook is running" in again
    assert stopped_at < 300, "the cancel stopped it before the end"
    assert [e["messageId"] for e in hook.events[300 + stopped_at:]] == \
        ["after-cancel"], "nothing was replayed after the cancel"
    originals = [m["messageId"] for m in sent]
    assert all(e["messageId"] in originals for e in replayed()[:stopped_at])


def test_a_destination_added_later_is_backfilled(trackway_bin, tmp_path,
                                                 receivers):
    first, late = receivers(), receivers()
    config = delivery_config(tmp_path, {"first": first})
    c = Collector(trackway_bin, tmp_path, config)
    with c:
        c.batch([track() for _ in range(30)])
        assert first.wait_for(30)
    config = delivery_config(tmp_path, {"first": first, "late": late})
    c = Collector(trackway_bin, tmp_path, config)
    with c:
        assert late.wait_for(30)
    assert len(first.events) == 30, "the first destination got nothing twice"


def test_the_breaker_opens_on_a_failing_destination_and_a_probe_closes_it(
        trackway_bin, tmp_path, receivers):
    hook = receivers()
    hook.respond(status=503)
    c = Collector(trackway_bin, tmp_path, delivery_config(
        tmp_path, {"hook": hook}, hook={
            "retry": {"max_attempts": 1000, "backoff": "10ms..20ms"},
            "breaker": {"failures": 3, "open_for": "1s"}}))
    opened = 'trackway_dest_breaker_opened_total{destination="hook"}'
    is_open = 'trackway_dest_breaker_open{destination="hook"}'
    with c:
        msg = track()
        c.batch([msg])
        assert wait_until(lambda: c.metrics()[opened] >= 1)
        assert c.metrics()[is_open] == 1
        # While open the destination is left alone: the next request is
        # the probe, a whole open_for after the failure that opened it.
        seen = len(hook.requests)
        assert wait_until(lambda: len(hook.requests) > seen)
        gap = hook.requests[seen]["time"] - hook.requests[seen - 1]["time"]
        assert gap >= 0.95, f"probed after {gap:.2f}s"
        hook.respond()
        assert hook.wait_for(1)
        assert wait_until(lambda: c.metrics()[is_open] == 0)
        assert "circuit breaker closed" in c.stderr_text()
    assert [e["messageId"] for e in hook.events] == [msg["messageId"]]


def test_replay_by_time_sends_only_what_arrived_since_then(
        trackway_bin, tmp_path, receivers, run_trackway):
    hook = receivers()
    c = Collector(trackway_bin, tmp_path,
                  delivery_config(tmp_path, {"hook": hook}))
    with c:
        old = [track(properties={"n": i}) for i in range(10)]
        c.batch(old)
        assert hook.wait_for(10)
        # The log's clock is the server's receive time: wait until a
        # later millisecond has surely begun, then mark the time.
        time.sleep(0.01)  # a clock boundary, not a condition to await
        now_ms = time.time_ns() // 1000000
        since = time.strftime("%Y-%m-%dT%H:%M:%S",
                              time.gmtime(now_ms // 1000)) + \
            ".%03dZ" % (now_ms % 1000)
        time.sleep(0.01)  # same boundary, on the other side
        new = [track(properties={"n": 10 + i}) for i in range(5)]
        c.batch(new)
        assert hook.wait_for(15)
        out = run_trackway("replay", "-c", c.config_path, "hook", "--from",
                           since, timeout=120).stdout
        assert "replay of hook ended" in out
        assert hook.wait_for(20)
    replayed = [e["messageId"] for e in hook.events[15:]]
    assert sorted(replayed) == sorted(m["messageId"] for m in new)
