"""The commands around the collector: send, tail, failed, check, and
their help, against a real `trackway serve`."""

import json
import select
import subprocess
import time

import pytest

from collector import Collector, default_config, to_yaml, track

COMMAND_OPTIONS = {
    "serve": ["--config"],
    "check": [],
    "send": ["--url", "--write-key", "--batch", "--gzip", "--retries"],
    "tail": ["--config", "--failed", "--source", "--event", "--since",
             "--from-start", "--no-follow"],
    "failed": ["--config", "--reason", "--source", "ls", "show", "replay"],
    "trace": ["--config", "--since"],
    "dlq": ["--config", "--since", "--limit", "ls", "show"],
    "dest": ["--config", "ls", "pause", "resume"],
    "replay": ["--config", "--from", "--to", "--where", "--rate", "--cancel"],
}


@pytest.mark.parametrize("command", sorted(COMMAND_OPTIONS))
def test_every_collector_command_explains_itself(run_trackway, command):
    out = run_trackway(command, "--help").stdout
    assert out.startswith(f"Usage: trackway {command}")
    assert "Example" in out
    for option in COMMAND_OPTIONS[command]:
        assert option in out, f"{command} --help does not mention {option}"


@pytest.fixture
def running(trackway_bin, tmp_path):
    c = Collector(trackway_bin, tmp_path).start()
    yield c
    assert c.stop() == 0, c.stderr_text()


def test_send_delivers_ndjson_and_reports_bad_lines(run_trackway, running,
                                                    tmp_path):
    lines = [json.dumps(track(user=f"u{i}")) for i in range(250)]
    lines.insert(7, "{not json")
    lines.insert(20, json.dumps({"type": "page", "userId": "no-id"}))
    src = tmp_path / "events.ndjson"
    src.write_text("\n".join(lines) + "\n")
    result = run_trackway("send", src, "--url",
                          f"http://127.0.0.1:{running.port}", "--write-key",
                          "wk_web", "--batch", "100", check=False)
    assert result.returncode == 1, "an invalid line makes the run fail"
    assert "line 8:" in result.stderr
    assert "251 events sent in 3 requests" in result.stderr
    stored = running.events()
    assert len(stored) == 251
    page = [e for e in stored if e["type"] == "page"]
    assert len(page[0]["messageId"]) == 36, "send assigned a messageId"


def test_send_gzip_and_a_wrong_key_is_reported(run_trackway, running,
                                               tmp_path):
    src = tmp_path / "one.ndjson"
    src.write_text(json.dumps(track()) + "\n")
    url = f"http://127.0.0.1:{running.port}"
    ok = run_trackway("send", src, "--url", url, "--write-key", "wk_web",
                      "--gzip")
    assert "1 events sent" in ok.stderr
    bad = run_trackway("send", src, "--url", url, "--write-key", "nope",
                       check=False)
    assert bad.returncode == 1
    assert "HTTP 401" in bad.stderr


def test_send_retries_a_503_and_the_collector_stores_the_batch_once(
        run_trackway, trackway_bin, tmp_path):
    config = default_config(tmp_path / "data")
    config["server"]["limits"] = {"max_inflight_bytes": "300B"}
    c = Collector(trackway_bin, tmp_path, config).start()
    src = tmp_path / "big.ndjson"
    src.write_text(json.dumps(track(properties={"pad": "p" * 400})) + "\n")
    result = run_trackway("send", src, "--url", f"http://127.0.0.1:{c.port}",
                          "--write-key", "wk_web", "--retries", "2",
                          check=False)
    assert result.returncode == 1
    assert "3 requests (2 retried)" in result.stderr
    assert "HTTP 503" in result.stderr
    c.stop()


def test_tail_filters_and_reads_beside_the_server(run_trackway, running):
    running.batch([track(event="A"), track(event="B"), track(event="A"),
                   {"type": "page", "userId": "u", "name": "Home"}])
    out = run_trackway("tail", "-c", running.config_path, "--from-start",
                       "--no-follow", "--event", "A").stdout
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["event"] for e in events] == ["A", "A"]
    pages = run_trackway("tail", "-c", running.config_path, "--from-start",
                         "--no-follow", "--type", "page").stdout
    assert len(pages.splitlines()) == 1
    none = run_trackway("tail", "-c", running.config_path, "--from-start",
                        "--no-follow", "--source", "other").stdout
    assert none == ""


def test_tail_follows_events_that_arrive_later(trackway_bin, running):
    proc = subprocess.Popen(
        [str(trackway_bin), "tail", "-c", str(running.config_path),
         "--limit", "1"], stdout=subprocess.PIPE, text=True)
    sent = set()
    try:
        # tail starts at the end of the log, at a moment this test cannot
        # see: send until a line arrives; it must be one that was sent.
        deadline = time.monotonic() + 60
        line = ""
        while not line and time.monotonic() < deadline:
            msg = track(event="Later")
            sent.add(msg["messageId"])
            assert running.batch([msg]).status == 200
            ready, _, _ = select.select([proc.stdout], [], [], 0.5)
            if ready:
                line = proc.stdout.readline()
        assert json.loads(line)["messageId"] in sent
        assert proc.wait(timeout=30) == 0, "stops after --limit 1"
    finally:
        proc.kill()
        proc.wait()


def test_failed_ls_and_show_explain_each_failure(run_trackway, running):
    running.batch([track(), {"type": "track", "userId": "u"},
                   {"type": "nope", "userId": "u", "messageId": "bad-1"}])
    ls = run_trackway("failed", "ls", "-c", running.config_path).stdout
    rows = ls.splitlines()
    assert rows[0].split()[:4] == ["OFFSET", "RECEIVED", "SOURCE", "REASON"]
    assert len(rows) == 3
    assert "needs an \"event\" name" in rows[1]
    show = run_trackway("failed", "show", "-c", running.config_path,
                        "1").stdout
    assert "reason:      malformed" in show
    assert '"messageId":"bad-1"' in show
    missing = run_trackway("failed", "show", "-c", running.config_path, "9",
                           check=False)
    assert missing.returncode == 1


def test_check_reports_every_mistake_with_file_and_line(run_trackway,
                                                        tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("server:\n  listen: nowhere\nstorage: { path: d }\n"
                   "sources:\n  - { name: web, write_keys: [k], plan: x }\n")
    result = run_trackway("check", bad, check=False)
    assert result.returncode == 1
    assert f"{bad}:2: listen must be HOST:PORT" in result.stderr
    assert f"{bad}:5: source 'web' names plan 'x'" in result.stderr
    good = tmp_path / "good.yaml"
    good.write_text(to_yaml(default_config(tmp_path / "data")) + "\n")
    assert "ok: 1 source" in run_trackway("check", good).stdout


def test_serve_refuses_a_bad_configuration_before_listening(run_trackway,
                                                            tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("storage: { path: d, durability: maybe }\n")
    result = run_trackway("serve", "-c", bad, check=False)
    assert result.returncode == 2
    assert "'maybe' is not one of" in result.stderr
    assert "nothing was started" in result.stderr


def test_trace_finds_an_accepted_and_a_failed_event(run_trackway, running):
    running.batch([track(messageId="trace-ok"),
                   {"type": "track", "userId": "u", "messageId": "trace-bad"}])
    ok = run_trackway("trace", "-c", running.config_path, "trace-ok").stdout
    assert ok.startswith("accepted  source web, partition")
    assert "no destinations are configured" in ok
    bad = run_trackway("trace", "-c", running.config_path, "trace-bad").stdout
    assert bad.startswith("failed    source web")
    assert "needs an \"event\" name" in bad
    missing = run_trackway("trace", "-c", running.config_path, "nope",
                           check=False)
    assert missing.returncode == 1
    assert "no event with messageId nope" in missing.stdout
