"""A real HTTP receiver for delivery tests: a webhook that records what it
gets and answers as a test tells it to.

Receiver() listens on a free loopback port in a thread of the test
process. Tests change its behaviour at any time:

    r.respond(status=503, retry_after=2)   # every request from now on
    r.respond(delay=5)                     # stall each answer 5 s
    r.respond()                            # back to 200
    r.script([500, 500, 200])              # the next answers, in order

and read what arrived: r.requests (method, path, headers, body), r.events
(every event of every body answered 2xx, in arrival order), wait_for(n)
(block until n events arrived, with a deadline, never a bare sleep).
"""

import gzip
import http.server
import json
import threading
import time


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        server = self.server.receiver
        status, retry_after, delay = server._next_answer()
        with server.cond:
            server.in_flight += 1
            server.max_in_flight = max(server.max_in_flight, server.in_flight)
        if delay:
            time.sleep(delay)  # the receiver under test is slow: on purpose
        record = {"path": self.path, "headers": dict(self.headers),
                  "body": body, "status": status, "time": time.monotonic()}
        with server.cond:
            server.in_flight -= 1
            server.requests.append(record)
            if 200 <= status < 300:
                server.events.extend(_events_of(body))
            server.cond.notify_all()
        reply = b'{"ok":true}' if status < 300 else b'{"error":"told to fail"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        if retry_after is not None:
            self.send_header("Retry-After", str(retry_after))
        self.end_headers()
        self.wfile.write(reply)


def _events_of(body):
    text = body.decode()
    if text.startswith("{"):
        try:
            doc = json.loads(text)
            if isinstance(doc, dict) and "batch" in doc:
                return doc["batch"]
        except ValueError:
            pass
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class Receiver:
    def __init__(self):
        self.requests = []
        self.events = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.cond = threading.Condition()
        self._status = 200
        self._retry_after = None
        self._delay = 0
        self._script = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     _Handler)
        self.httpd.daemon_threads = True
        self.httpd.receiver = self
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       daemon=True)
        self.thread.start()

    def respond(self, status=200, retry_after=None, delay=0):
        with self.cond:
            self._status, self._retry_after, self._delay = (
                status, retry_after, delay)

    def script(self, statuses):
        with self.cond:
            self._script = list(statuses)

    def _next_answer(self):
        with self.cond:
            if self._script:
                return self._script.pop(0), self._retry_after, self._delay
            return self._status, self._retry_after, self._delay

    def wait_for(self, n, timeout=30):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.events) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self.cond.wait(left)
            return len(self.events) >= n

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
