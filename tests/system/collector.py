"""A running `trackway serve` for system tests, and a small HTTP client.

Collector(bin, tmp_path, **settings) writes a configuration into tmp_path,
starts the real binary on a free loopback port (listen 127.0.0.1:0) and
waits for its "listening on" line: readiness, never a sleep. It speaks
HTTP/1.1 with http.client from the standard library.

The logs are read back with the binary's own `trackway log dump`, so a
test sees exactly what an operator would.
"""

import base64
import gzip
import http.client
import json
import os
import pathlib
import re
import select
import signal
import subprocess
import time

LISTEN_RE = re.compile(r"listening on http://([0-9.]+):(\d+)")


def basic(key):
    """The Authorization header value SDKs send for a write key."""
    return "Basic " + base64.b64encode(f"{key}:".encode()).decode()


def default_config(data_dir):
    return {
        "server": {"listen": "127.0.0.1:0", "threads": 2},
        "storage": {"path": str(data_dir), "partitions": 4,
                    "durability": "fsync"},
        "sources": [
            {"name": "web", "write_keys": ["wk_web"]},
        ],
    }


def to_yaml(value, indent=0):
    """YAML for the plain dicts/lists/scalars of a test configuration.

    JSON is valid YAML for scalars, so strings are written as JSON strings.
    """
    pad = "  " * indent
    lines = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{pad}{json.dumps(key)}:")
                lines.append(to_yaml(item, indent + 1))
            else:
                lines.append(f"{pad}{json.dumps(key)}: {scalar(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)) and item:
                inner = to_yaml(item, indent + 1).lstrip()
                lines.append(f"{pad}- {inner}")
            else:
                lines.append(f"{pad}- {scalar(item)}")
    return "\n".join(lines)


def scalar(item):
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, (int, float)):
        return str(item)
    if isinstance(item, (dict, list)):
        return "{}" if isinstance(item, dict) else "[]"
    return json.dumps(str(item))


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


class Collector:
    def __init__(self, binary, workdir, config=None, env=None):
        self.binary = str(binary)
        self.workdir = pathlib.Path(workdir)
        self.data = self.workdir / "data"
        self.config = config or default_config(self.data)
        self.config_path = self.workdir / "trackway.yaml"
        self.config_path.write_text(to_yaml(self.config) + "\n")
        self.env = env
        self.proc = None
        self.stderr_path = self.workdir / "serve.stderr"
        self.host = None
        self.port = None

    # -------------------------------------------------------------- life --

    def start(self, timeout=60):
        env = dict(os.environ)
        env.setdefault("TRACKWAY_LOG_LEVEL", "info")
        if self.env:
            env.update(self.env)
        self.stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(
            [self.binary, "serve", "-c", str(self.config_path)],
            stdout=subprocess.PIPE, stderr=self.stderr, env=env)
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                match = LISTEN_RE.search(line.decode(errors="replace"))
                if match:
                    self.host, self.port = match.group(1), int(match.group(2))
                    return self
                if not line:
                    break
            if self.proc.poll() is not None:
                break
        raise AssertionError(
            f"trackway serve did not start (exit {self.proc.poll()}):\n"
            + self.stderr_text())

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            self.proc.stdout.close()
            self.stderr.close()
            self.proc = None
        return code

    def kill(self):
        return self.stop(sig=signal.SIGKILL)

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        code = self.stop()
        assert code in (0, None), (
            f"trackway serve exited {code}:\n{self.stderr_text()}")

    # -------------------------------------------------------------- HTTP --

    def connection(self, timeout=30):
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None):
        own = conn is None
        conn = conn or self.connection()
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return Response(resp.status, dict(resp.getheaders()), resp.read())
        finally:
            if own:
                conn.close()

    def post(self, path, body, key="wk_web", gzip_body=False, headers=None,
             conn=None):
        hdrs = {"Content-Type": "application/json"}
        if key is not None:
            hdrs["Authorization"] = basic(key)
        if gzip_body:
            body = gzip.compress(json.dumps(body).encode())
            hdrs["Content-Encoding"] = "gzip"
        hdrs.update(headers or {})
        return self.request("POST", path, body, hdrs, conn=conn)

    def batch(self, messages, **kwargs):
        return self.post("/v1/batch", {"batch": messages}, **kwargs)

    def metrics(self):
        text = self.request("GET", "/metrics").body.decode()
        values = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values

    # -------------------------------------------------------------- logs --

    def dump(self, which="events"):
        """Every record of a log as dicts, with "event" parsed."""
        result = subprocess.run(
            [self.binary, "log", "dump", str(self.data / which)],
            capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        records = []
        for line in result.stdout.splitlines():
            rec = json.loads(line)
            rec["event"] = json.loads(rec["value"])
            records.append(rec)
        return records

    def events(self):
        return [r["event"] for r in self.dump("events")]

    def failed(self):
        return [r["event"] for r in self.dump("failed")]


_counter = [0]


def track(event="Signed Up", user="u1", **fields):
    """A Segment track message with a fresh messageId."""
    _counter[0] += 1
    msg = {"type": "track", "event": event, "userId": user,
           "messageId": f"test-{os.getpid()}-{time.monotonic_ns()}-"
                        f"{_counter[0]}",
           "properties": {}}
    msg.update(fields)
    return msg
