"""`trackway failed replay`: failed events sent again to a restarted
collector whose plan was fixed, judged again, stored once."""

import json
import socket

import pytest

from collector import Collector, default_config, to_yaml, track

ORDER = {
    "type": "object",
    "required": ["order_id", "total"],
    "properties": {
        "order_id": {"type": "string", "maxLength": 8},
        "total": {"type": "number"},
    },
}


def write_plan(tmp_path, version, total_type):
    schemas = tmp_path / "schemas"
    schemas.mkdir(exist_ok=True)
    schema = json.loads(json.dumps(ORDER))
    schema["properties"]["total"]["type"] = total_type
    (schemas / "order.json").write_text(json.dumps(schema))
    config = default_config(tmp_path / "data")
    config["sources"][0].update(plan="shop", on_violation="reject")
    config["plans"] = {"shop": {
        "version": version, "unplanned": "reject",
        "events": {"Order Completed": "schemas/order.json"}}}
    return config


def order(**props):
    return track(event="Order Completed", properties=props)


@pytest.fixture
def fixed(trackway_bin, tmp_path):
    """A collector that failed a batch under plan 1 (total must be a
    number), restarted with plan 2 (total may be a string too)."""
    first = Collector(trackway_bin, tmp_path, write_plan(tmp_path, "1",
                                                         "number"))
    with first:
        good = order(order_id="o1", total=5)
        bad = order(order_id="o2", total="5")
        no_id = order(order_id="o3", total="7")
        del no_id["messageId"]
        still_bad = order(order_id="much-too-long", total="9")
        assert first.batch([good, bad, no_id, still_bad]).status == 200
        assert len(first.failed()) == 3
    second = Collector(trackway_bin, tmp_path,
                       write_plan(tmp_path, "2", ["number", "string"]))
    second.start()
    second.sent = {"good": good, "bad": bad, "still_bad": still_bad}
    yield second
    assert second.stop() == 0, second.stderr_text()


def replay(run_trackway, c, *args, check=True):
    return run_trackway("failed", "replay", "-c", c.config_path, "--url",
                        f"http://127.0.0.1:{c.port}", "--no-progress", *args,
                        check=check)


def test_replay_stores_what_the_fixed_plan_accepts_with_its_messageid(
        run_trackway, fixed):
    result = replay(run_trackway, fixed)
    assert "3 failed events read, 3 sent in 1 requests" in result.stderr
    assert "1 answered 200" in result.stderr
    assert "trackway failed ls -c" in result.stderr and "--since" in (
        result.stderr)
    stored = {e["properties"]["order_id"]: e for e in fixed.events()}
    assert set(stored) == {"o1", "o2", "o3"}
    assert stored["o2"]["messageId"] == fixed.sent["bad"]["messageId"]
    assert stored["o2"]["context"]["trackway"]["planVersion"] == "2"
    assert stored["o1"]["context"]["trackway"]["planVersion"] == "1"


def test_an_event_without_a_messageid_keeps_the_one_the_collector_gave(
        run_trackway, fixed):
    (old,) = [r for r in fixed.dump("failed")
              if r["event"]["event"]["properties"]["order_id"] == "o3"]
    assigned = old["key"].split("/", 1)[1]
    assert assigned and "messageId" not in old["event"]["event"]
    replay(run_trackway, fixed)
    (stored,) = [e for e in fixed.events()
                 if e["properties"]["order_id"] == "o3"]
    assert stored["messageId"] == assigned


def test_a_second_replay_stores_nothing_new(run_trackway, fixed):
    replay(run_trackway, fixed)
    after_first = fixed.events()
    replay(run_trackway, fixed)
    assert fixed.events() == after_first
    assert fixed.metrics()['trackway_events_duplicate_total{source="web"}'] \
        >= 2


def test_an_event_that_still_fails_gets_a_new_failed_record(run_trackway,
                                                            fixed):
    replay(run_trackway, fixed)
    failed = fixed.failed()
    assert len(failed) == 4, "the three old records and one new"
    (new,) = [f for f in failed if f["planVersion"] == "2"]
    assert new["event"] == fixed.sent["still_bad"]
    assert new["reason"] == "invalid"
    assert [v["pointer"] for v in new["violations"]] == [
        "/properties/order_id"]


def test_filters_choose_what_is_replayed(run_trackway, fixed):
    result = replay(run_trackway, fixed, "--source", "other")
    assert "0 failed events read, 0 sent" in result.stderr
    result = replay(run_trackway, fixed, "--until", "2000-01-01T00:00:00Z")
    assert "0 failed events read" in result.stderr
    assert len(fixed.events()) == 1


def test_dry_run_prints_the_events_and_sends_nothing(run_trackway, fixed):
    result = replay(run_trackway, fixed, "--dry-run")
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["properties"]["order_id"] for e in printed] == [
        "o2", "o3", "much-too-long"]
    assert all(e.get("messageId") for e in printed)
    assert "nothing sent" in result.stderr
    assert len(fixed.events()) == 1 and len(fixed.failed()) == 3


def test_a_wrong_url_is_a_clear_error(run_trackway, fixed):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))  # bound, never listening: refused
        port = closed.getsockname()[1]
        result = run_trackway("failed", "replay", "-c", fixed.config_path,
                              "--url", f"http://127.0.0.1:{port}",
                              "--retries", "0", "--no-progress", check=False)
    assert result.returncode == 1
    assert f"no answer from http://127.0.0.1:{port}/v1/batch" in (
        result.stderr)
    assert "0 sent" in result.stderr
    assert len(fixed.events()) == 1


def test_replay_explains_itself(run_trackway):
    out = run_trackway("failed", "replay", "--help").stdout
    assert out.startswith("Usage: trackway failed replay")
    for option in ("--url", "--dry-run", "--since", "--until", "receivedAt"):
        assert option in out



def test_events_of_a_source_no_longer_configured_are_skipped(run_trackway,
                                                             fixed, tmp_path):
    config = json.loads(json.dumps(fixed.config))
    config["sources"][0]["name"] = "app"
    other = tmp_path / "renamed.yaml"
    other.write_text(to_yaml(config) + "\n")
    result = run_trackway("failed", "replay", "-c", other, "--url",
                          f"http://127.0.0.1:{fixed.port}", "--no-progress",
                          check=False)
    assert result.returncode == 1
    assert "source 'web' is not in the configuration; skipped" in (
        result.stderr)
    assert "3 failed events read, 0 sent" in result.stderr
    assert "3 skipped" in result.stderr
    assert len(fixed.events()) == 1
