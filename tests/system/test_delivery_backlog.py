"""A destination's backlog policy when the log reaches its byte budget:
`block` keeps every event for the destination and ingestion answers 503
until it catches up; `skip` lets retention take the oldest events, which
the destination counts as lost and names by offset range. The server is
the real binary, the destination a real webhook receiver, paused so that
its backlog grows (`trackway dest pause` before the server starts)."""

import os
import re
import time

from collector import Collector, default_config, track
from test_delivery import receivers, wait_until  # noqa: F401 (fixture)

BUDGET = 256 * 1024


def backlog_config(tmp_path, hook, policy):
    config = default_config(tmp_path / "data")
    config["storage"].update({
        "partitions": 1,
        "segment_max_bytes": "32KiB",
        "retention": {"max_bytes": f"{BUDGET // 1024}KiB"},
    })
    config["destinations"] = [{
        "name": "hook", "type": "http", "url": hook.url,
        "backlog": policy,
        "batch": {"max_events": 100, "max_wait": "20ms"}}]
    config["routes"] = [{"from": "web", "to": ["hook"]}]
    return config


def padded(i):
    """An event of some 400 bytes that the log cannot compress away."""
    return track(user=f"u{i % 5}",
                 properties={"pad": os.urandom(100).hex(), "n": i})


def send_until(c, stop, stored=None, seconds=60):
    """Sends batches of 50 until stop(response), or until the log stores
    more than stored bytes when that is given; returns the messageIds
    accepted and the last response."""
    accepted = []
    resp = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        events = [padded(len(accepted) + k) for k in range(50)]
        resp = c.batch(events)
        if resp.status == 200:
            accepted += [e["messageId"] for e in events]
        if stop(resp) or (stored is not None and c.metrics()[
                'trackway_log_stored_bytes{log="events"}'] > stored):
            break
    return accepted, resp


def test_block_keeps_every_event_and_ingest_answers_503_until_delivered(
        trackway_bin, tmp_path, receivers, run_trackway):  # noqa: F811
    hook = receivers()
    c = Collector(trackway_bin, tmp_path,
                  backlog_config(tmp_path, hook, "block"))
    run_trackway("dest", "pause", "-c", c.config_path, "hook")
    with c:
        accepted, resp = send_until(c, lambda r: r.status == 503)
        assert resp.status == 503, "the log never filled"
        assert "storage is full" in resp.json()["error"]
        assert int(resp.headers["Retry-After"]) > 0
        m = c.metrics()
        assert m['trackway_log_full{log="events"}'] == 1
        assert m['trackway_backpressure_total{cause="storage_full"}'] >= 1
        assert m['trackway_log_rejected_budget_total{log="events"}'] >= 1
        assert m['trackway_log_stored_bytes{log="events"}'] > BUDGET
        assert "cursor=dest.hook" in c.stderr_text()

        # Nothing the destination holds was removed: once it delivers,
        # every accepted event arrives and ingestion takes events again.
        run_trackway("dest", "resume", "-c", c.config_path, "hook")
        assert hook.wait_for(len(accepted))
        assert wait_until(
            lambda: c.metrics()['trackway_log_full{log="events"}'] == 0)
        late = [track(user="late")]
        assert c.batch(late).status == 200
        assert hook.wait_for(len(accepted) + 1)
        m = c.metrics()
    assert {e["messageId"] for e in hook.events} == set(
        accepted + [late[0]["messageId"]])
    assert m['trackway_dest_events_lost_total{destination="hook"}'] == 0
    assert "log no longer full" in c.stderr_text()


def test_skip_loses_the_oldest_events_and_counts_and_names_them(
        trackway_bin, tmp_path, receivers, run_trackway):  # noqa: F811
    hook = receivers()
    c = Collector(trackway_bin, tmp_path,
                  backlog_config(tmp_path, hook, "skip"))
    run_trackway("dest", "pause", "-c", c.config_path, "hook")
    with c:
        accepted, resp = send_until(c, lambda r: r.status != 200,
                                    stored=3 * BUDGET)
        assert resp.status == 200, resp
        deleted = 'trackway_log_deleted_unread_segments_total{log="events"}'
        assert wait_until(lambda: c.metrics()[deleted] > 0)
        assert c.metrics()['trackway_log_full{log="events"}'] == 0

        run_trackway("dest", "resume", "-c", c.config_path, "hook")
        lag = 'trackway_dest_lag_events{destination="hook"}'
        assert wait_until(lambda: c.metrics()[lag] == 0)
        m = c.metrics()
    lost = m['trackway_dest_events_lost_total{destination="hook"}']
    got = [e["messageId"] for e in hook.events]
    assert lost > 0
    # Each accepted event was either delivered once or counted as lost,
    # and the newest ones all arrived.
    assert len(got) == len(set(got))
    assert set(got) <= set(accepted)
    assert len(got) + lost == len(accepted)
    assert set(accepted[-50:]) <= set(got)
    ranges = re.findall(r"they are lost to it.*?from=(\d+) to=(\d+)",
                        c.stderr_text())
    assert ranges, c.stderr_text()
    assert sum(int(b) - int(a) + 1 for a, b in ranges) == lost
