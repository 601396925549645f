-- Gives wrk what benchmarks.loadgen's own generator has: a request budget. Each wrk thread
-- stops once it has its share of answers (`wrk ... -s wrk_budget.lua URL -- <per thread>`),
-- and at the end the totals are printed for benchmarks.loadgen.parse_wrk. Answers wrk had
-- already read in the same pass of its event loop still count: a thread may end up to one
-- answer per other connection over its share.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  budget = tonumber(args[1]) or math.huge
  sent, answered = 0, 0
end

function request()
  sent = sent + 1
  return wrk.request()
end

function response(status, headers, body)
  answered = answered + 1
  if answered >= budget then
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local total_sent, total_answered = 0, 0
  for _, thread in ipairs(threads) do
    total_sent = total_sent + thread:get("sent")
    total_answered = total_answered + thread:get("answered")
  end
  io.write(string.format("Requests sent: %d, answered: %d\n", total_sent, total_answered))
end
