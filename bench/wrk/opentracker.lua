-- wrk script for the directory benchmark: each request is the re-announce of
-- a peer chosen at random from INFO_HASHES_FILE (one 40-hex-digit info hash
-- per line, all on opentracker's whitelist). Peer i keeps its 20-byte peer_id
-- and port, so like a ferry heartbeat it refreshes an entry the tracker
-- knows rather than adding one.
--   wrk -s bench/wrk/opentracker.lua URL -- INFO_HASHES_FILE
local requests = {}

local function urlencode_hex(hex)
  return (hex:gsub("%x%x", function(b) return "%" .. b:upper() end))
end

function init(args)
  local path = args[1] or error("usage: wrk -s opentracker.lua URL -- INFO_HASHES_FILE")
  local i = 0
  for line in io.lines(path) do
    local hash = line:match("^(%x+)$")
    if hash and #hash == 40 then
      i = i + 1
      requests[i] = wrk.format("GET", string.format(
          "/announce?info_hash=%s&peer_id=-FB0001-%012d&port=%d&uploaded=0&downloaded=0&left=0&compact=1",
          urlencode_hex(hash), i, 1024 + i % 64000))
    end
  end
  if i == 0 then error("no info hashes in " .. path) end
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "0", 16))
end

function request()
  return requests[math.random(#requests)]
end
