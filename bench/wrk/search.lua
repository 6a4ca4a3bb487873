-- wrk script for the directory benchmark: each request searches for a text
-- chosen at random from QUERIES_FILE (URL-encoded pieces of names that exist,
-- written by ferry_directory_load), with the first token of PEERS_FILE.
-- With PAUSE_MS, each connection waits a random time (exponential, that mean)
-- between its searches, like a client with a user behind it: N connections
-- then offer about N * 1000 / PAUSE_MS searches/s instead of all they can.
--   wrk -s bench/wrk/search.lua URL -- PEERS_FILE QUERIES_FILE [PAUSE_MS]
local queries, token, pause_ms = {}, nil, 0

function init(args)
  local peers, path = args[1], args[2]
  if not path then error("usage: wrk -s search.lua URL -- PEERS_FILE QUERIES_FILE [PAUSE_MS]") end
  pause_ms = tonumber(args[3] or "0") or error("PAUSE_MS must be a number")
  for line in io.lines(peers) do
    token = line:match("^%x+ (%x+)$")
    if token then break end
  end
  if not token then error("no 'peer_id token' line in " .. peers) end
  for line in io.lines(path) do
    if #line > 0 then
      queries[#queries + 1] = wrk.format("GET", "/api/v1/search?q=" .. line,
                                         { ["Authorization"] = "Bearer " .. token })
    end
  end
  if #queries == 0 then error("no queries in " .. path) end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
end

function request()
  return queries[math.random(#queries)]
end

function delay()
  if pause_ms <= 0 then return 0 end
  return -pause_ms * math.log(1 - math.random())
end
