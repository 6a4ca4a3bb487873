-- wrk script for the directory benchmark: each request is the heartbeat of a
-- peer chosen at random from the announced ones, with its owner's token.
--   wrk -s bench/wrk/heartbeat.lua URL -- PEERS_FILE [close]  ("peer_id token" lines)
-- With "close", every request asks for a new connection (Connection: close).
local ids, tokens, requests = {}, {}, {}
local headers = { ["Content-Type"] = "application/json" }

function init(args)
  local path = args[1] or error("usage: wrk -s heartbeat.lua URL -- PEERS_FILE")
  for line in io.lines(path) do
    local id, token = line:match("^(%x+) (%x+)$")
    if id then
      ids[#ids + 1] = id
      tokens[#tokens + 1] = token
    end
  end
  if #ids == 0 then error("no 'peer_id token' lines in " .. path) end
  if args[2] == "close" then headers["Connection"] = "close" end
  -- Every request is formatted here, once: wrk's Lua per request is what
  -- would otherwise limit the rate.
  for i = 1, #ids do
    headers["Authorization"] = "Bearer " .. tokens[i]
    requests[i] = wrk.format("POST", "/api/v1/heartbeat", headers, '{"peer_id":"' .. ids[i] .. '"}')
  end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
end

function request()
  return requests[math.random(#requests)]
end
