"""The `trackway log` tools, driven through the real binary.

A sample log is made with `trackway log demo`; stat, dump, check, repair and
retain are then run on it as an operator would, including after a byte of a
segment file was flipped on purpose.
"""

import fcntl
import json
import os
import pathlib
import struct
import subprocess

import pytest

SEGMENT_HEADER = 64
BATCH_HEADER = 56


def demo(run_trackway, path, events=20, partitions=4):
    run_trackway("log", "demo", path, "--partitions", partitions,
                 "--events", events)


def stat_json(run_trackway, path):
    return json.loads(run_trackway("log", "stat", path, "--json").stdout)


def dump_records(run_trackway, path, *args):
    out = run_trackway("log", "dump", path, *args).stdout
    return [json.loads(line) for line in out.splitlines()]


def segment_files(partition_dir):
    return sorted(pathlib.Path(partition_dir).glob("*.seg"))


def batch_positions(segment):
    """Start of every batch in a segment file, read from the batch headers."""
    data = segment.read_bytes()
    positions = []
    pos = SEGMENT_HEADER
    while pos + BATCH_HEADER <= len(data):
        magic, length = struct.unpack_from("<4sI", data, pos)
        assert magic == b"TWB1", f"no batch at {pos} in {segment}"
        positions.append(pos)
        pos += length
    return positions, len(data)


def flip_byte(path, position):
    with open(path, "r+b") as f:
        f.seek(position)
        byte = f.read(1)
        f.seek(position)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_demo_then_stat_shows_the_records(run_trackway, tmp_log_dir):
    out = run_trackway("log", "demo", tmp_log_dir, "--events", 20).stdout
    assert "20 sample events" in out

    stat = stat_json(run_trackway, tmp_log_dir)
    assert len(stat["partitions"]) == 4
    assert stat["total"]["records"] == 20
    assert sum(p["end_offset"] - p["start_offset"]
               for p in stat["partitions"]) == 20
    assert all(p["segments"] >= 1 for p in stat["partitions"])
    assert stat["total"]["oldest"].endswith("Z")

    table = run_trackway("log", "stat", tmp_log_dir).stdout
    assert "20 records" in table
    assert "p003" in table


def test_dump_prints_ndjson_with_dense_offsets(run_trackway, tmp_log_dir):
    demo(run_trackway, tmp_log_dir, events=30, partitions=3)
    records = dump_records(run_trackway, tmp_log_dir)
    assert len(records) == 30

    by_partition = {}
    for rec in records:
        assert set(rec) == {"partition", "offset", "timestamp", "key",
                            "value"}
        event = json.loads(rec["value"])
        assert event["userId"] == rec["key"]
        assert event["type"] == "track"
        by_partition.setdefault(rec["partition"], []).append(rec["offset"])
    for offsets in by_partition.values():
        assert offsets == list(range(offsets[0], offsets[0] + len(offsets)))
        assert offsets[0] == 0


def test_dump_of_one_partition_from_an_offset_with_a_limit(run_trackway,
                                                           tmp_log_dir):
    demo(run_trackway, tmp_log_dir, events=40, partitions=2)
    end = stat_json(run_trackway, tmp_log_dir)["partitions"][1]["end_offset"]
    assert end > 5

    records = dump_records(run_trackway, tmp_log_dir, "--partition", 1,
                           "--from-offset", 2, "--limit", 3)
    assert [(r["partition"], r["offset"]) for r in records] == [
        (1, 2), (1, 3), (1, 4)]


def test_dump_from_time_starts_at_the_first_record_at_or_after_it(
        run_trackway, tmp_log_dir):
    demo(run_trackway, tmp_log_dir, events=24, partitions=2)
    everything = dump_records(run_trackway, tmp_log_dir)
    times = sorted(r["timestamp"] for r in everything)
    cut = times[10]

    later = dump_records(run_trackway, tmp_log_dir, "--from-time", cut)
    expected = [(r["partition"], r["offset"]) for r in everything
                if r["timestamp"] >= cut]
    assert [(r["partition"], r["offset"]) for r in later] == expected
    assert len(later) == 14


def test_dump_follow_prints_records_another_process_appends(
        trackway_bin, run_trackway, tmp_log_dir):
    demo(run_trackway, tmp_log_dir, events=4, partitions=1)
    follower = subprocess.Popen(
        [str(trackway_bin), "log", "dump", str(tmp_log_dir), "--follow",
         "--limit", "10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        demo(run_trackway, tmp_log_dir, events=6, partitions=1)
        out, err = follower.communicate(timeout=30)
    finally:
        if follower.poll() is None:
            follower.kill()
            follower.communicate()
    assert follower.returncode == 0, err
    offsets = [json.loads(line)["offset"] for line in out.splitlines()]
    assert offsets == list(range(10))


def test_check_of_a_fresh_log_is_clean(run_trackway, tmp_log_dir):
    demo(run_trackway, tmp_log_dir)
    result = run_trackway("log", "check", tmp_log_dir)
    assert "0 damage, 0 warnings" in result.stdout

    report = json.loads(run_trackway("log", "check", tmp_log_dir,
                                     "--json").stdout)
    assert report["clean"] is True
    assert report["findings"] == []
    assert report["summary"]["records"] == 20


def test_a_flipped_byte_is_found_repaired_and_the_records_before_it_kept(
        run_trackway, tmp_log_dir):
    demo(run_trackway, tmp_log_dir, events=20, partitions=1)
    part = stat_json(run_trackway, tmp_log_dir)["partitions"][0]
    (segment,) = segment_files(part["dir"])
    positions, size = batch_positions(segment)
    assert len(positions) == 5, "demo appends batches of 4 events"
    damaged = positions[1]
    flip_byte(segment, damaged + BATCH_HEADER + 10)

    check = run_trackway("log", "check", tmp_log_dir, check=False)
    assert check.returncode == 1, check.stdout + check.stderr
    assert (f"damage p000 {segment.name} @{damaged} offsets 4..7"
            in check.stdout), check.stdout
    report = json.loads(run_trackway("log", "check", tmp_log_dir, "--json",
                                     check=False).stdout)
    assert report["clean"] is False
    damage = [f for f in report["findings"] if f["severity"] == "damage"]
    assert damage[0]["file"] == f"p000/{segment.name}"
    assert damage[0]["position"] == damaged

    plan = run_trackway("log", "repair", tmp_log_dir, "--dry-run",
                        check=False)
    assert plan.returncode == 1
    assert "would cut" in plan.stdout
    assert segment.stat().st_size == size, "a dry run changes nothing"

    repair = run_trackway("log", "repair", tmp_log_dir)
    assert "cut p000" in repair.stdout
    assert "the log is clean now" in repair.stdout
    quarantined = pathlib.Path(tmp_log_dir, "quarantine",
                               f"p000-{segment.name}-{damaged}.bad")
    assert quarantined.stat().st_size == size - damaged
    assert segment.stat().st_size == damaged

    run_trackway("log", "check", tmp_log_dir)
    assert [r["offset"] for r in dump_records(run_trackway, tmp_log_dir)] \
        == [0, 1, 2, 3]

    # Offsets cut out are not given to new records.
    demo(run_trackway, tmp_log_dir, events=1, partitions=1)
    assert [r["offset"] for r in dump_records(run_trackway, tmp_log_dir)] \
        == [0, 1, 2, 3, 20]

    again = run_trackway("log", "repair", tmp_log_dir)
    assert "actions: 0," in again.stdout


def test_repair_refuses_while_a_process_holds_the_log(run_trackway,
                                                      tmp_log_dir):
    demo(run_trackway, tmp_log_dir)
    with open(os.path.join(tmp_log_dir, "LOCK"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        result = run_trackway("log", "repair", tmp_log_dir, check=False)
    assert result.returncode == 1
    assert "holds the log" in result.stderr


def test_retain_reports_its_pass(run_trackway, tmp_log_dir):
    demo(run_trackway, tmp_log_dir)
    result = run_trackway("log", "retain", tmp_log_dir, "--max-bytes",
                          "10GiB", "--max-age", "7d")
    assert "deleted 0 segments" in result.stdout
    assert "20 records now" in result.stdout

    bad = run_trackway("log", "retain", tmp_log_dir, "--max-age", "7 days",
                       check=False)
    assert bad.returncode == 2
    assert "not a duration" in bad.stderr


HELP_OPTIONS = {
    "stat": ["--json"],
    "dump": ["--partition", "--from-offset", "--from-time", "--limit",
             "--follow"],
    "check": ["--json"],
    "repair": ["--dry-run"],
    "demo": ["--partitions", "--events"],
    "retain": ["--max-bytes", "--max-age", "--keep-unread",
               "--drop-unread"],
}


@pytest.mark.parametrize("command", sorted(HELP_OPTIONS))
def test_every_log_command_explains_itself(run_trackway, command):
    out = run_trackway("log", command, "--help").stdout
    assert out.startswith(f"Usage: trackway log {command}")
    assert "Example:" in out
    for option in HELP_OPTIONS[command] + ["--help"]:
        assert option in out, f"{command} --help does not mention {option}"


@pytest.mark.parametrize("args", [["--help"], ["help"], ["log", "--help"],
                                  ["version", "--help"], ["help", "log"]])
def test_top_level_help_exits_0(run_trackway, args):
    out = run_trackway(*args).stdout
    assert out.startswith("Usage: trackway")


def test_version_names_the_release(run_trackway):
    assert run_trackway("version").stdout.startswith("trackway ")


@pytest.mark.parametrize("args", [["bogus"], [], ["log"], ["log", "bogus"],
                                  ["log", "dump", "/nowhere", "--bogus"],
                                  ["log", "stat"]])
def test_wrong_usage_exits_2_with_a_message(run_trackway, args):
    result = run_trackway(*args, check=False)
    assert result.returncode == 2
    assert result.stderr.strip() != ""
    assert result.stdout == ""


def test_a_missing_log_is_reported_not_created(run_trackway, tmp_log_dir):
    missing = os.path.join(tmp_log_dir, "nothing-here")
    for command in ("stat", "dump", "check"):
        result = run_trackway("log", command, missing, check=False)
        assert result.returncode == 2
        assert "no log" in result.stderr
    assert not os.path.exists(missing)
