-- pace.lua - the paced load of `make bench-e2e` (scripts/bench-e2e):
-- /v1/batch requests at a fixed rate, each request's send and 2xx times
-- written down so the delivery reader can tell how long each event took
-- from its acknowledgement to its destination.
--
--   wrk -t N -c N -s bench/e2e/pace.lua URL -- TAG AUTH EVENTS RATE N OUT
--
--   TAG     a word unique to the run, the start of every messageId
--   AUTH    the Authorization header value ("Basic base64(KEY:)")
--   EVENTS  events per request (the batch of bench/ingest/ingest.lua)
--   RATE    requests per second for all threads together
--   N       the number of wrk threads (and connections)
--   OUT     a file prefix: thread T writes OUT.T, one line per answer,
--           "REQUEST SEND_NS ACK_NS STATUS" (CLOCK_MONOTONIC)
--
-- Run it with N threads and N connections: with one connection per
-- thread, every response() answers the last request() of that thread, so
-- the two times belong to one request. Each thread keeps a schedule
-- (request k is due at start + phase + k * interval) and delay() waits
-- for the next slot; a request answered late makes the next one go at
-- once, so the rate holds while the answers keep within the interval.
-- Events are those of ingest.lua (about 400 bytes, a user per event, ids
-- "TAG-THREAD-REQUEST-I"), so the server sees the same load as the peak.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } e2e_timespec;
int clock_gettime(int clk, e2e_timespec *ts);
]]
local CLOCK_MONOTONIC = 1
local ts = ffi.new("e2e_timespec")

local function now_ns()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1e9 + tonumber(ts.tv_nsec)
end

local threads = {}
local next_id = 0

function setup(thread)
    next_id = next_id + 1
    thread:set("thread_id", next_id)
    table.insert(threads, thread)
end

local TAIL = '","timestamp":"2026-12-03T10:15:30.123Z",' ..
    '"properties":{"product_id":"sku-48213","name":"Trail Running Shoe",' ..
    '"price":89.99,"currency":"EUR","quantity":1},' ..
    '"context":{"library":{"name":"analytics.js","version":"4.1.0"},' ..
    '"page":{"path":"/products/trail-running-shoe",' ..
    '"referrer":"https://shop.example.com/"},"locale":"en-GB"}}'

local function head(user)
    return '{"type":"track","event":"Product Viewed","userId":"user-' ..
        string.format("%08d", user) .. '","messageId":"'
end

local tag, events, thread_count, interval_ns, out
local parts = {}
local sent = 0
local sent_ns = 0
local start_ns = nil
statuses = {}

function init(args)
    tag = args[1]
    events = tonumber(args[3] or "")
    local rate = tonumber(args[4] or "")
    thread_count = tonumber(args[5] or "")
    if tag == nil or args[2] == nil or events == nil or events < 1 or
        rate == nil or rate <= 0 or thread_count == nil or
        thread_count < 1 or args[6] == nil then
        error("usage: -- TAG AUTH EVENTS RATE THREADS OUT")
    end
    wrk.method = "POST"
    wrk.path = "/v1/batch"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = args[2]
    interval_ns = 1e9 * thread_count / rate
    out = assert(io.open(args[6] .. "." .. thread_id, "w"))
    -- wrk never closes a thread's Lua state: nothing may stay buffered.
    out:setvbuf("line")
    for i = 1, events do
        local h = head(thread_id * 4096 + (i * 37) % 4096)
        if i == 1 then
            parts[1] = '{"batch":[' .. h
        else
            parts[2 * i - 1] = parts[2 * i - 1] .. "," .. h
        end
        parts[2 * i] = ""
        parts[2 * i + 1] = string.format("-%03d%s", i, TAIL)
    end
    parts[2 * events + 1] = parts[2 * events + 1] ..
        '],"sentAt":"2026-12-03T10:15:31.000Z"}'
end

function delay()
    local now = now_ns()
    if start_ns == nil then
        -- Threads start together; a phase per thread spreads their slots.
        start_ns = now + interval_ns * (thread_id - 1) / thread_count
    end
    local due = start_ns + sent * interval_ns
    if due <= now then
        return 0
    end
    return math.floor((due - now) / 1e6 + 0.5)
end

function request()
    sent = sent + 1
    local prefix = string.format("%s-%d-%d", tag, thread_id, sent)
    for i = 2, 2 * events, 2 do
        parts[i] = prefix
    end
    local req = wrk.format(nil, nil, nil, table.concat(parts))
    sent_ns = now_ns()
    return req
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
    out:write(string.format("%d %d %d %d\n", sent, sent_ns, now_ns(), status))
end

function done(summary, latency, requests)
    local ok, other = 0, 0
    for _, thread in ipairs(threads) do
        for status, n in pairs(thread:get("statuses") or {}) do
            if status >= 200 and status < 300 then
                ok = ok + n
            else
                other = other + n
            end
        end
    end
    local e = summary.errors
    io.write(string.format(
        'pace-wrk {"duration_s":%.6f,"requests":%d,"ok":%d,"non2xx":%d,' ..
        '"socket_errors":%d,"timeouts":%d,"p50_ms":%.3f,"p99_ms":%.3f}\n',
        summary.duration / 1e6, summary.requests, ok, other,
        e.connect + e.read + e.write, e.timeout,
        latency:percentile(50) / 1e3, latency:percentile(99) / 1e3))
end
