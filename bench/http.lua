-- wrk script of bench/http: every request takes the next line of a file of
-- request targets, so a run goes over many patients, dates and instances
-- instead of repeating one cached answer.
--
--   wrk -t2 -c16 -d15s -s bench/http.lua http://127.0.0.1:PORT -- TARGETS PREFIX [ACCEPT]
--
-- TARGETS  a file of request targets relative to PREFIX, one a line
--          (e.g. studies?PatientID=I000123)
-- PREFIX   prepended to every line (e.g. /dicomweb/)
-- ACCEPT   the Accept header of every request (none when absent or empty)
--
-- Each thread starts at its own place in the list and goes round it. When
-- the run ends, one line "WRK {json}" gives the counts, the errors (non-2xx
-- and non-3xx responses are "status") and the latency percentiles in
-- microseconds.

local targets, n, i = {}, 0, 0
local headers = {}
local prefix = ""
local threads = 0

function setup(thread)
    threads = threads + 1
    thread:set("thread_index", threads)
end

function init(args)
    local file = args[1]
    prefix = args[2] or ""
    if args[3] and args[3] ~= "" then
        headers["Accept"] = args[3]
    end
    for line in io.lines(file) do
        if line ~= "" then
            n = n + 1
            targets[n] = line
        end
    end
    if n == 0 then
        error("no request targets in " .. file)
    end
    -- threads start spread over the list: a prime stride apart
    i = ((thread_index or 1) - 1) * 7919 % n
end

function request()
    i = i % n + 1
    return wrk.format("GET", prefix .. targets[i], headers)
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        'WRK {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
        '"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"max":%d,' ..
        '"mean":%.1f}\n',
        summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
        e.status, e.timeout, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, latency.mean))
end
