-- ingest.lua - the wrk load of `make bench-ingest` (scripts/bench-ingest).
--
--   wrk -s bench/ingest/ingest.lua URL -- MODE TAG AUTH [EVENTS [REQUESTS]]
--
--   MODE      batch: POST /v1/batch carrying EVENTS events (default 100)
--             track: POST /v1/track carrying one event
--   TAG       a word unique to the run, the start of every messageId
--   AUTH      the Authorization header value ("Basic base64(KEY:)")
--   REQUESTS  each thread sends this many requests and then waits (0 or
--             absent: no limit), so that a load stores a set amount
--             (scripts/bench-delivery stops wrk once all are answered)
--
-- Every request carries events never sent before: the collector drops a
-- messageId it has already accepted, so repeating one body would measure
-- the dedup set instead of the log. The ids are "TAG-THREAD-REQUEST",
-- and "-I" after it for the I-th event of a batch.
-- A batch is kept as fixed text around the id prefix, so a request costs
-- one table.concat, not 100 string.format calls: wrk shares the two cores
-- with the server and every microsecond it spends is the server's loss.
--
-- done() prints one line, "ingest-wrk {json}", which the harness reads:
-- completed requests, answers by status (non-2xx counted, never hidden),
-- socket errors and timeouts, and latency percentiles in milliseconds.

local threads = {}
local next_id = 0

function setup(thread)
    next_id = next_id + 1
    thread:set("thread_id", next_id)
    table.insert(threads, thread)
end

-- One Segment track event of about 400 bytes, minified, split around its
-- messageId: head(user) .. ID .. TAIL.
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

local mode, tag, events
local parts = {}   -- the batch body in pieces (init)
local sent = 0
local max_requests = 0
statuses = {}      -- read by done() through thread:get

-- With a cap, a connection whose next request would pass it parks: wrk
-- asks delay() before each request (and fires it later, so the count is
-- taken here, not in request()). Defined only then, since wrk calls
-- delay() per request. wrk itself runs until -d or SIGINT; the caller
-- stops it once the answers are in.
local granted = 0
local function capped_delay()
    if granted >= max_requests then
        return 3600000
    end
    granted = granted + 1
    return 0
end

function init(args)
    mode = args[1]
    tag = args[2]
    events = tonumber(args[4] or "100")
    max_requests = tonumber(args[5] or "0")
    if (mode ~= "batch" and mode ~= "track") or tag == nil or
        args[3] == nil or events == nil or events < 1 or
        max_requests == nil or max_requests < 0 then
        error("usage: -- batch|track TAG AUTH [EVENTS [REQUESTS]]")
    end
    if max_requests > 0 then
        delay = capped_delay
    end
    wrk.method = "POST"
    wrk.path = mode == "batch" and "/v1/batch" or "/v1/track"
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Authorization"] = args[3]
    if mode == "batch" then
        -- parts: fixed text at odd slots, the request's id prefix at even.
        for i = 1, events do
            -- A different user per event: the batch spans the partitions.
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
end

function request()
    sent = sent + 1
    local prefix = string.format("%s-%d-%d", tag, thread_id, sent)
    if mode == "track" then
        local h = head((thread_id * 1000003 + sent) % 100000)
        return wrk.format(nil, nil, nil, h .. prefix .. TAIL)
    end
    for i = 2, 2 * events, 2 do
        parts[i] = prefix
    end
    return wrk.format(nil, nil, nil, table.concat(parts))
end

function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

local function ms(us)
    return us / 1000.0
end

function done(summary, latency, requests)
    local ok, other = 0, 0
    local by_status = {}
    local codes = {}
    for _, thread in ipairs(threads) do
        for status, n in pairs(thread:get("statuses") or {}) do
            by_status[status] = (by_status[status] or 0) + n
            if status >= 200 and status < 300 then
                ok = ok + n
            else
                other = other + n
            end
        end
    end
    for status, n in pairs(by_status) do
        codes[#codes + 1] = string.format('"%d":%d', status, n)
    end
    local e = summary.errors
    io.write(string.format(
        "done: %d requests, %d answered 2xx, %d not 2xx; " ..
        "p50 %.2f ms, p99 %.2f ms; socket errors %d, timeouts %d\n",
        summary.requests, ok, other, ms(latency:percentile(50)),
        ms(latency:percentile(99)), e.connect + e.read + e.write, e.timeout))
    io.write(string.format(
        'ingest-wrk {"duration_s":%.6f,"requests":%d,"ok":%d,"non2xx":%d,' ..
        '"statuses":{%s},"connect_errors":%d,"read_errors":%d,' ..
        '"write_errors":%d,"timeouts":%d,"p50_ms":%.3f,"p90_ms":%.3f,' ..
        '"p99_ms":%.3f,"p999_ms":%.3f,"max_ms":%.3f,"mean_ms":%.3f}\n',
        summary.duration / 1e6, summary.requests, ok, other,
        table.concat(codes, ","), e.connect, e.read, e.write, e.timeout,
        ms(latency:percentile(50)), ms(latency:percentile(90)),
        ms(latency:percentile(99)), ms(latency:percentile(99.9)),
        ms(latency.max), ms(latency.mean)))
end
