"""Tracking plans over real HTTP: each event judged on its own against
its source's plan, with the policy the source chose."""

import json

import pytest

from collector import Collector, default_config, track

ORDER = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["order_id", "total"],
    "properties": {
        "order_id": {"type": "string", "maxLength": 8},
        "total": {"type": "number", "minimum": 0},
        "items": {"type": "array",
                  "items": {"$ref": "common.json#/$defs/item"}},
    },
}
COMMON = {"$defs": {"item": {"type": "object", "required": ["sku"]}}}
TRAITS = {"type": "object", "properties": {"email": {"format": "email"}}}


def plan_config(tmp_path, on_violation="reject", unplanned="reject"):
    schemas = tmp_path / "schemas"
    schemas.mkdir(exist_ok=True)
    (schemas / "order.json").write_text(json.dumps(ORDER))
    (schemas / "common.json").write_text(json.dumps(COMMON))
    (schemas / "traits.json").write_text(json.dumps(TRAITS))
    config = default_config(tmp_path / "data")
    config["sources"][0].update(plan="shop", on_violation=on_violation)
    config["plans"] = {"shop": {
        "version": "4", "unplanned": unplanned,
        "events": {"Order Completed": "schemas/order.json"},
        "identify": "schemas/traits.json"}}
    return config


@pytest.fixture
def serve(trackway_bin, tmp_path):
    started = []

    def start(**kwargs):
        c = Collector(trackway_bin, tmp_path, plan_config(tmp_path, **kwargs))
        started.append(c.start())
        return c

    yield start
    for c in started:
        assert c.stop() == 0, c.stderr_text()


def order(**props):
    return track(event="Order Completed", properties=props)


def test_a_valid_event_is_stored_with_the_plan_version_that_judged_it(serve):
    c = serve()
    assert c.batch([order(order_id="o1", total=5, items=[{"sku": "a"}])]
                   ).status == 200
    (event,) = c.events()
    assert event["context"]["trackway"] == {
        "source": "web", "plan": "shop", "planVersion": "4"}


def test_invalid_events_are_failed_with_pointer_keyword_and_message(serve):
    c = serve()
    good = order(order_id="o1", total=5)
    bad = order(order_id="much-too-long", total=-1, items=[{}])
    assert c.batch([good, bad]).status == 200
    assert [e["messageId"] for e in c.events()] == [good["messageId"]]
    (failed,) = c.failed()
    assert failed["reason"] == "invalid"
    assert failed["plan"] == "shop" and failed["planVersion"] == "4"
    assert failed["event"] == bad
    found = {(v["pointer"], v["keyword"]) for v in failed["violations"]}
    assert found == {("/properties/order_id", "maxLength"),
                     ("/properties/total", "minimum"),
                     ("/properties/items/0/sku", "required")}
    messages = " ".join(v["message"] for v in failed["violations"])
    assert "at most 8" in messages and "at least 0" in messages


def test_an_event_missing_its_properties_is_judged_as_empty(serve):
    c = serve()
    msg = track(event="Order Completed")
    del msg["properties"]
    c.batch([msg])
    (failed,) = c.failed()
    assert {v["keyword"] for v in failed["violations"]} == {"required"}


def test_unplanned_events_are_failed_or_allowed_as_the_plan_says(
        trackway_bin, tmp_path):
    for policy, stored in (("reject", 0), ("allow", 1)):
        work = tmp_path / policy
        work.mkdir()
        c = Collector(trackway_bin, work,
                      plan_config(work, unplanned=policy))
        with c:
            assert c.batch([track(event="Not In Plan")]).status == 200
            assert len(c.events()) == stored
            if policy == "reject":
                (failed,) = c.failed()
                assert failed["reason"] == "unplanned"
                assert "rejects unplanned" in failed["error"]


def test_annotate_keeps_the_event_with_its_violations(serve):
    c = serve(on_violation="annotate")
    assert c.batch([order(order_id="o1", total="free")]).status == 200
    (event,) = c.events()
    (violation,) = event["context"]["trackway"]["violations"]
    assert violation["pointer"] == "/properties/total"
    assert violation["keyword"] == "type"
    assert c.failed() == []
    m = c.metrics()
    assert m['trackway_events_annotated_total{source="web"}'] == 1


def test_accept_keeps_the_event_without_annotations(serve):
    c = serve(on_violation="accept")
    assert c.batch([order(total="free")]).status == 200
    (event,) = c.events()
    assert "violations" not in event["context"]["trackway"]


def test_formats_are_asserted_in_plans(serve):
    c = serve()
    c.batch([{"type": "identify", "userId": "u", "messageId": "i1",
              "traits": {"email": "not an address"}},
             {"type": "identify", "userId": "u", "messageId": "i2",
              "traits": {"email": "a@example.com"}}])
    assert [e["messageId"] for e in c.events()] == ["i2"]
    (failed,) = c.failed()
    assert failed["violations"][0]["pointer"] == "/traits/email"
    assert failed["violations"][0]["keyword"] == "format"


def test_check_names_the_schema_and_the_place_that_does_not_compile(
        run_trackway, tmp_path):
    config = plan_config(tmp_path)
    (tmp_path / "schemas" / "order.json").write_text(
        json.dumps({"properties": {"x": {"pattern": "(unclosed"}}}))
    (tmp_path / "schemas" / "traits.json").write_text(
        json.dumps({"$ref": "missing.json"}))
    c = Collector(None, tmp_path, config)
    result = run_trackway("check", c.config_path, check=False)
    assert result.returncode == 1
    assert "plan 'shop', event 'Order Completed'" in result.stderr
    assert "/properties/x/pattern" in result.stderr
    assert "missing.json" in result.stderr
    assert "never fetched" in result.stderr
    assert result.stderr.count(f"{c.config_path}:") == 2
