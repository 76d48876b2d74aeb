"""The collector over real HTTP: `trackway serve` on a free loopback port.

Every test starts its own server with its own configuration and data
directory, sends requests the way Segment and RudderStack SDKs do, and
reads the logs back with `trackway log dump`.
"""

import base64
import datetime
import gzip
import json

import pytest

from collector import Collector, basic, default_config, track


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(text):
    return datetime.datetime.strptime(
        text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)


@pytest.fixture
def serve(trackway_bin, tmp_path):
    """serve(config=None) starts a collector; all are stopped at the end."""
    started = []

    def start(config=None, workdir=None):
        c = Collector(trackway_bin, workdir or tmp_path, config)
        c.start()
        started.append(c)
        return c

    yield start
    for c in started:
        code = c.stop()
        assert code in (0, None), c.stderr_text()


def config_with(tmp_path, **changes):
    config = default_config(tmp_path / "data")
    for section, values in changes.items():
        if isinstance(values, dict):
            config.setdefault(section, {}).update(values)
        else:
            config[section] = values
    return config


# ----------------------------------------------------------- endpoints --

def test_a_batch_of_every_call_type_is_stored_and_answered_success(serve):
    c = serve()
    messages = [
        track(),
        {"type": "identify", "userId": "u1", "traits": {"plan": "pro"},
         "messageId": "m-identify"},
        {"type": "page", "anonymousId": "a1", "name": "Home",
         "messageId": "m-page"},
        {"type": "screen", "userId": "u1", "name": "Cart",
         "messageId": "m-screen"},
        {"type": "group", "userId": "u1", "groupId": "g1",
         "messageId": "m-group"},
        {"type": "alias", "userId": "u1", "previousId": "a1",
         "messageId": "m-alias"},
    ]
    resp = c.batch(messages)
    assert resp.status == 200, resp
    assert resp.json() == {"success": True}
    stored = {e["messageId"]: e for e in c.events()}
    assert set(stored) == {m["messageId"] for m in messages}
    for m in messages:
        assert stored[m["messageId"]]["type"] == m["type"]
        assert stored[m["messageId"]]["context"]["trackway"]["source"] == "web"


@pytest.mark.parametrize("path,call", [
    ("/v1/track", {"event": "Clicked", "userId": "u"}),
    ("/v1/identify", {"userId": "u", "traits": {"a": 1}}),
    ("/v1/page", {"anonymousId": "a", "name": "Home"}),
    ("/v1/screen", {"userId": "u", "name": "Cart"}),
    ("/v1/group", {"userId": "u", "groupId": "g"}),
    ("/v1/alias", {"userId": "u", "previousId": "p"}),
    ("/v1/t", {"event": "Short Path", "userId": "u"}),
])
def test_each_single_call_path_stores_its_type(serve, path, call):
    c = serve()
    resp = c.post(path, call)
    assert resp.status == 200, resp
    (event,) = c.events()
    assert event["type"] == {"/v1/t": "track"}.get(path, path[4:])
    assert len(event["messageId"]) == 36  # assigned: a UUID


def test_the_write_key_in_the_body_authenticates_as_well(serve):
    c = serve()
    msg = track()
    resp = c.post("/v1/batch", {"batch": [msg], "writeKey": "wk_web"},
                  key=None)
    assert resp.status == 200, resp
    (event,) = c.events()
    assert event["messageId"] == msg["messageId"]
    assert "writeKey" not in event


@pytest.mark.parametrize("key", [None, "wk_nope"])
def test_a_missing_or_unknown_write_key_is_refused_401(serve, key):
    c = serve()
    resp = c.batch([track()], key=key)
    assert resp.status == 401
    assert "write key" in resp.json()["error"]
    assert c.events() == []


def test_a_gzip_body_labelled_as_form_data_is_read(serve):
    c = serve()
    msg = track()
    resp = c.post("/v1/batch", {"batch": [msg]}, gzip_body=True,
                  headers={"Content-Type":
                           "application/x-www-form-urlencoded"})
    assert resp.status == 200, resp
    assert [e["messageId"] for e in c.events()] == [msg["messageId"]]


def test_a_damaged_gzip_body_is_refused_400(serve):
    c = serve()
    body = gzip.compress(b'{"batch":[]}')[:-6]
    resp = c.request("POST", "/v1/batch", body,
                     {"Content-Encoding": "gzip",
                      "Authorization": basic("wk_web")})
    assert resp.status == 400
    assert "gzip" in resp.json()["error"]


def test_the_pixel_answers_a_gif_and_stores_the_event(serve):
    c = serve()
    data = base64.urlsafe_b64encode(json.dumps(
        {"writeKey": "wk_web", "event": "Email Opened", "userId": "u9",
         "messageId": "pixel-1"}).encode()).decode().rstrip("=")
    resp = c.request("GET", f"/v1/pixel/track?data={data}")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/gif"
    assert resp.body.startswith(b"GIF89a")
    (event,) = c.events()
    assert (event["type"], event["event"]) == ("track", "Email Opened")


def test_a_preflight_allows_the_browser_and_answers_carry_cors(serve):
    c = serve()
    resp = c.request("OPTIONS", "/v1/batch", headers={
        "Origin": "https://shop.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type"})
    assert resp.status == 204
    assert resp.headers["Access-Control-Allow-Origin"] == \
        "https://shop.example"
    assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    beacon = c.post("/v1/track", {"event": "Beacon", "userId": "u",
                                  "writeKey": "wk_web"}, key=None,
                    headers={"Content-Type": "text/plain",
                             "Origin": "https://shop.example"})
    assert beacon.status == 200
    assert beacon.headers["Access-Control-Allow-Origin"] == \
        "https://shop.example"


def test_health_and_metrics_answer(serve):
    c = serve()
    assert c.request("GET", "/health").json() == {"status": "ok"}
    c.batch([track(), track()])
    m = c.metrics()
    assert m['trackway_events_accepted_total{source="web"}'] == 2
    assert m['trackway_responses_total{code="200"}'] >= 1


# ----------------------------------------------------------- bad input --

@pytest.mark.parametrize("body,words", [
    (b'{"batch": [', "not valid JSON"),
    (b'[1, 2]', "JSON object"),
    (b'{"batch": {}}', "\"batch\" array"),
    (b'{"batch": ["\xff"]}', "UTF-8"),
])
def test_a_malformed_body_is_refused_400_with_its_reason(serve, body, words):
    c = serve()
    resp = c.request("POST", "/v1/batch", body,
                     {"Authorization": basic("wk_web")})
    assert resp.status == 400, resp
    assert words in resp.json()["error"]
    assert c.events() == [] and c.failed() == []


def test_one_bad_event_does_not_fail_its_batch(serve):
    c = serve()
    good = [track(), track(user="u2")]
    bad = [
        {"type": "track", "userId": "u"},                     # no event
        {"type": "track", "event": "X"},                      # no user
        {"type": "bogus", "userId": "u"},                     # unknown type
        "not an object",
        {"type": "track", "event": "X", "userId": "u",
         "timestamp": "yesterday"},
    ]
    resp = c.batch(good[:1] + bad + good[1:])
    assert resp.status == 200, resp
    assert sorted(e["messageId"] for e in c.events()) == \
        sorted(m["messageId"] for m in good)
    failed = c.failed()
    assert len(failed) == len(bad)
    assert {f["reason"] for f in failed} == {"malformed"}
    assert [f["event"] for f in failed] == bad
    assert all(f["error"] for f in failed)


# -------------------------------------------------------------- limits --

def test_a_body_over_the_request_limit_is_refused_413(serve, tmp_path):
    c = serve(config_with(tmp_path, server={
        "listen": "127.0.0.1:0", "limits": {"max_request_bytes": "4KiB"}}))
    resp = c.batch([track(properties={"pad": "x" * 5000})])
    assert resp.status == 413
    assert c.events() == []


def test_a_gzip_body_that_inflates_over_the_limit_is_refused_413(
        serve, tmp_path):
    c = serve(config_with(tmp_path, server={
        "listen": "127.0.0.1:0", "limits": {"max_request_bytes": "8KiB"}}))
    resp = c.batch([track(properties={"pad": "x" * 20000})], gzip_body=True)
    assert resp.status == 413
    assert "decoded" in resp.json()["error"]


def test_an_oversized_message_is_413_alone_and_failed_in_a_batch(
        serve, tmp_path):
    c = serve(config_with(tmp_path, server={
        "listen": "127.0.0.1:0", "limits": {"max_message_bytes": "1KiB"}}))
    big = track(properties={"pad": "y" * 2000})
    assert c.post("/v1/track", big).status == 413
    small = track()
    assert c.batch([big, small]).status == 200
    assert [e["messageId"] for e in c.events()] == [small["messageId"]]
    (failed,) = c.failed()
    assert failed["reason"] == "too_large"
    assert failed["event"]["messageId"] == big["messageId"]


def test_a_source_over_its_rate_limit_gets_429_with_retry_after(
        serve, tmp_path):
    config = config_with(tmp_path)
    config["sources"][0]["rate_limit"] = {"events_per_second": 1, "burst": 3}
    c = serve(config)
    assert c.batch([track(), track(), track()]).status == 200
    resp = c.batch([track()])
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) >= 1
    assert len(c.events()) == 3


def test_more_bytes_in_flight_than_allowed_get_503_with_retry_after(
        serve, tmp_path):
    c = serve(config_with(tmp_path, server={
        "listen": "127.0.0.1:0", "limits": {"max_inflight_bytes": "200B"}}))
    resp = c.batch([track(properties={"pad": "z" * 400})])
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "1"
    assert c.events() == []


# ------------------------------------------------- enrichment and dedup --

def test_the_timestamp_is_corrected_for_client_clock_skew(serve):
    c = serve()
    now = datetime.datetime.now(datetime.timezone.utc)
    skew = datetime.timedelta(hours=3)
    happened = now - datetime.timedelta(seconds=30)
    msg = track(originalTimestamp=iso(happened + skew))
    resp = c.post("/v1/batch", {"batch": [msg], "sentAt": iso(now + skew)})
    assert resp.status == 200
    (event,) = c.events()
    received = parse_iso(event["receivedAt"])
    corrected = parse_iso(event["timestamp"])
    assert abs((received - now).total_seconds()) < 30
    assert abs((received - corrected).total_seconds() - 30) < 1
    assert event["originalTimestamp"] == iso(happened + skew)


def test_batch_context_merges_under_the_message_and_ip_is_added(serve):
    c = serve()
    msg = track(context={"library": {"name": "mine"}})
    c.post("/v1/batch", {"batch": [msg],
                         "context": {"library": {"name": "batch"},
                                     "locale": "de-DE"},
                         "integrations": {"All": False}})
    (event,) = c.events()
    assert event["context"]["library"] == {"name": "mine"}
    assert event["context"]["locale"] == "de-DE"
    assert event["context"]["ip"] == "127.0.0.1"
    assert event["integrations"] == {"All": False}


def test_a_resent_batch_is_stored_once(serve):
    c = serve()
    batch = [track(), track(user="u2")]
    assert c.batch(batch).status == 200
    assert c.batch(batch, headers={}).status == 200
    assert len(c.events()) == 2
    m = c.metrics()
    assert m['trackway_events_duplicate_total{source="web"}'] == 2


def test_dedup_survives_a_restart(trackway_bin, tmp_path):
    batch = [track(), track(user="u3")]
    c = Collector(trackway_bin, tmp_path)
    with c:
        assert c.batch(batch).status == 200
    c = Collector(trackway_bin, tmp_path)
    with c:
        assert c.batch(batch).status == 200
        assert c.batch([track()]).status == 200
        assert len(c.events()) == 3


def test_a_200_means_the_events_are_already_readable_from_the_log(serve):
    c = serve()
    conn = c.connection()
    for i in range(20):
        msg = track(user=f"user-{i}")
        bad = {"type": "track", "userId": "u", "messageId": f"bad-{i}"}
        assert c.batch([msg, bad], conn=conn).status == 200
        ids = {e["messageId"] for e in c.events()}
        assert msg["messageId"] in ids
        # The failed-events log is part of the promise too.
        failed = {f["event"]["messageId"] for f in c.failed()}
        assert bad["messageId"] in failed
    conn.close()


def test_one_users_events_keep_their_order_in_one_partition(serve):
    c = serve()
    msgs = [track(user="same-user", properties={"n": i}) for i in range(30)]
    conn = c.connection()
    for i in range(0, 30, 5):
        assert c.batch(msgs[i:i + 5], conn=conn).status == 200
    conn.close()
    records = c.dump()
    assert len({r["partition"] for r in records}) == 1
    assert [r["event"]["properties"]["n"] for r in records] == list(range(30))


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(serve, tmp_path):
    config = config_with(tmp_path, server={
        "listen": "127.0.0.1:0", "trusted_proxies": ["127.0.0.1"],
        "anonymize_ip": True})
    c = serve(config)
    # The client wrote the first entry itself; the proxy appended the rest.
    c.batch([track(user="p")], headers={
        "X-Forwarded-For": "10.9.9.9, 203.0.113.77, 127.0.0.1"})
    c.batch([track(user="v6")], headers={
        "X-Forwarded-For": "2001:db8:1:2:3:4:5:6"})
    ips = sorted(e["context"]["ip"] for e in c.events())
    assert ips == ["2001:db8:1::", "203.0.113.0"]


def test_forwarded_for_from_an_untrusted_peer_is_ignored(serve):
    c = serve()
    c.batch([track()], headers={"X-Forwarded-For": "203.0.113.77"})
    (event,) = c.events()
    assert event["context"]["ip"] == "127.0.0.1"
