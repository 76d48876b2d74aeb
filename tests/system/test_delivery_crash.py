"""Kill -9 of `trackway serve` during delivery to a file and an HTTP
destination. Clients send while the server is killed at random moments,
several times; it is restarted each time on the same data. Afterwards
every messageId that was answered 200 has been delivered to both
destinations at least once, and duplicates are bounded by what can be in
flight at a kill. Rounds: 4, or 20 with TW_TEST_LONG=1."""

import os
import random
import threading
import time

from collector import Collector, track
from receiver import Receiver
from test_delivery import delivery_config, file_events, wait_until

LONG = os.environ.get("TW_TEST_LONG") == "1"
ROUNDS = 20 if LONG else 4


def send_until(c, acked, stop):
    conn = c.connection(timeout=10)
    while not stop.is_set():
        batch = [track(user=f"u{random.randrange(20)}")
                 for _ in range(random.randint(1, 40))]
        try:
            if c.batch(batch, conn=conn).status == 200:
                acked.update(m["messageId"] for m in batch)
        except Exception:  # the server was killed under us
            return


def test_every_acknowledged_event_is_delivered_despite_kill_9(
        trackway_bin, tmp_path):
    rng = random.Random(os.environ.get("TW_TEST_SEED"))
    hook = Receiver()
    config = delivery_config(tmp_path, {"hook": hook})
    acked = set()
    try:
        for _ in range(ROUNDS):
            c = Collector(trackway_bin, tmp_path, config).start()
            stop = threading.Event()
            sender = threading.Thread(target=send_until,
                                      args=(c, acked, stop))
            sender.start()
            before = len(hook.events)
            wait_until(lambda: len(hook.events) > before, timeout=30)
            time.sleep(rng.uniform(0, 0.4))  # a random moment of delivery
            c.kill()
            stop.set()
            sender.join(timeout=30)

        # Recovery: run until both destinations have caught up.
        c = Collector(trackway_bin, tmp_path, config)
        with c:
            # Counts include duplicates: wait for the very ids.
            assert wait_until(lambda: acked <= {
                e["messageId"] for e in list(hook.events)}, timeout=60)
            assert wait_until(lambda: acked <= {
                e["messageId"] for e in file_events(tmp_path / "lake")},
                timeout=60)
    finally:
        hook.close()

    delivered = [e["messageId"] for e in hook.events]
    assert acked <= set(delivered), "an acknowledged event was lost"
    # At a kill, at most the batches in flight (4 partitions, one batch
    # each, up to 50 events) are sent again.
    duplicates = len(delivered) - len(set(delivered))
    assert duplicates <= ROUNDS * 4 * 50, duplicates
    assert len(acked) > 0
