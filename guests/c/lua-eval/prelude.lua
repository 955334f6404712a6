-- prelude.lua: the standard prelude of the lua-eval guest.
--
-- The host runs it once with `init` (or snapshots the state after that
-- run); every `eval` script can then use these globals:
--
--   json      json.encode(value), json.decode(text) -> value | nil, err
--   str       split, trim, startswith, endswith, format (named fields), ...
--   tbl       map, filter, reduce, keys, values, deepcopy, deepeq, ...
--   class     class(name, parent) -> a class with :new(...) and is_a
--   Random    Random.new(seed) -> a deterministic xorshift64* generator
--   lib       all of the above in one table, plus lib.version
--
-- Plain Lua 5.4, no C modules. The guest cannot recover from errors (no
-- pcall without setjmp), so functions that parse input report bad input
-- by returning nil and a message instead of raising an error.

local lib = { version = "lua-eval prelude 1.0" }

local type, pairs, ipairs, tostring, tonumber = type, pairs, ipairs, tostring, tonumber
local select, setmetatable, getmetatable, rawget = select, setmetatable, getmetatable, rawget
local concat, insert, sort = table.concat, table.insert, table.sort
local byte, char, find, fmt, gsub, sub, rep =
  string.byte, string.char, string.find, string.format, string.gsub, string.sub, string.rep
local floor, huge, mtype = math.floor, math.huge, math.type

---------------------------------------------------------------------------
-- Table helpers
---------------------------------------------------------------------------

local tbl = {}

function tbl.map(t, f)
  local out = {}
  for i = 1, #t do out[i] = f(t[i], i) end
  return out
end

function tbl.filter(t, pred)
  local out = {}
  for i = 1, #t do
    local v = t[i]
    if pred(v, i) then out[#out + 1] = v end
  end
  return out
end

function tbl.reduce(t, f, acc)
  local start = 1
  if acc == nil then acc, start = t[1], 2 end
  for i = start, #t do acc = f(acc, t[i], i) end
  return acc
end

-- Keys in a stable order: numbers first (ascending), then strings, then
-- anything else by its tostring.
local function key_order(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    if ta == "number" then return true end
    if tb == "number" then return false end
    if ta == "string" then return true end
    if tb == "string" then return false end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  return tostring(a) < tostring(b)
end
tbl.key_order = key_order

function tbl.keys(t)
  local out = {}
  for k in pairs(t) do out[#out + 1] = k end
  sort(out, key_order)
  return out
end

function tbl.values(t)
  local out, ks = {}, tbl.keys(t)
  for i = 1, #ks do out[i] = t[ks[i]] end
  return out
end

function tbl.count(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

local function deepcopy(v, seen)
  if type(v) ~= "table" then return v end
  seen = seen or {}
  if seen[v] then return seen[v] end
  local out = {}
  seen[v] = out
  for k, x in pairs(v) do out[deepcopy(k, seen)] = deepcopy(x, seen) end
  return setmetatable(out, getmetatable(v))
end
tbl.deepcopy = deepcopy

local function deepeq(a, b, seen)
  if a == b then return true end
  if type(a) ~= "table" or type(b) ~= "table" then return false end
  seen = seen or {}
  if seen[a] == b then return true end
  seen[a] = b
  for k, v in pairs(a) do
    if not deepeq(v, b[k], seen) then return false end
  end
  for k in pairs(b) do
    if a[k] == nil then return false end
  end
  return true
end
tbl.deepeq = deepeq

---------------------------------------------------------------------------
-- String helpers
---------------------------------------------------------------------------

local str = {}

-- split("a,b,,c", ",") -> {"a", "b", "", "c"}; the separator is plain text.
function str.split(s, sep, max)
  sep = sep or ","
  local out, pos = {}, 1
  if sep == "" then
    for i = 1, #s do out[i] = sub(s, i, i) end
    return out
  end
  while true do
    if max and #out == max - 1 then break end
    local i, j = find(s, sep, pos, true)
    if not i then break end
    out[#out + 1] = sub(s, pos, i - 1)
    pos = j + 1
  end
  out[#out + 1] = sub(s, pos)
  return out
end

function str.trim(s) return (gsub(s, "^%s*(.-)%s*$", "%1")) end
function str.startswith(s, prefix) return sub(s, 1, #prefix) == prefix end
function str.endswith(s, suffix) return suffix == "" or sub(s, -#suffix) == suffix end

-- format("{name} is {age}", {name = "Ada", age = 36}) -> "Ada is 36";
-- "{x:%.2f}" passes the value through string.format; "{{" is a "{".
function str.format(template, fields)
  local out = gsub(template, "(%b{})", function(hole)
    local inner = sub(hole, 2, -2)
    if sub(inner, 1, 1) == "{" then return sub(hole, 2, -2) end
    local name, spec = inner:match("^%s*([%w_%.]+)%s*:?%s*(.-)%s*$")
    if not name then return hole end
    local v = fields
    for part in name:gmatch("[^%.]+") do
      if type(v) ~= "table" then v = nil break end
      v = v[tonumber(part) or part]
    end
    if v == nil then return hole end
    if spec ~= "" then return fmt(spec, v) end
    return tostring(v)
  end)
  return out
end

---------------------------------------------------------------------------
-- JSON
---------------------------------------------------------------------------

local json = { null = setmetatable({}, { __tostring = function() return "null" end }) }
local array_mt = { __name = "json.array" }

-- Marks a table as a JSON array, so that an empty one encodes as [].
function json.array(t) return setmetatable(t or {}, array_mt) end

local escapes = {
  ['"'] = '\\"', ["\\"] = "\\\\", ["\b"] = "\\b", ["\f"] = "\\f",
  ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
}

local function encode_string(s)
  return '"' .. gsub(s, '[%c"\\]', function(c)
    return escapes[c] or fmt("\\u%04x", byte(c))
  end) .. '"'
end

local function is_array(t)
  if getmetatable(t) == array_mt then return true end
  local n = #t
  if n == 0 then return false end
  local count = 0
  for k in pairs(t) do
    if mtype(k) ~= "integer" or k < 1 or k > n then return false end
    count = count + 1
  end
  return count == n
end

local encode_value

local function encode_table(t, out, depth, stack)
  if stack[t] then return nil, "cannot encode a table that contains itself" end
  if depth > 100 then return nil, "nested too deeply" end
  stack[t] = true
  if is_array(t) then
    out[#out + 1] = "["
    for i = 1, #t do
      if i > 1 then out[#out + 1] = "," end
      local ok, err = encode_value(t[i], out, depth + 1, stack)
      if not ok then return nil, err end
    end
    out[#out + 1] = "]"
  else
    out[#out + 1] = "{"
    local ks = tbl.keys(t)
    for i, k in ipairs(ks) do
      local tk = type(k)
      if tk ~= "string" and tk ~= "number" then
        return nil, "cannot encode a key of type " .. tk
      end
      if i > 1 then out[#out + 1] = "," end
      out[#out + 1] = encode_string(tostring(k))
      out[#out + 1] = ":"
      local ok, err = encode_value(t[k], out, depth + 1, stack)
      if not ok then return nil, err end
    end
    out[#out + 1] = "}"
  end
  stack[t] = nil
  return true
end

function encode_value(v, out, depth, stack)
  local tv = type(v)
  if v == nil or v == json.null then
    out[#out + 1] = "null"
  elseif tv == "boolean" then
    out[#out + 1] = v and "true" or "false"
  elseif tv == "number" then
    if v ~= v or v == huge or v == -huge then return nil, "cannot encode " .. tostring(v) end
    if mtype(v) == "integer" then out[#out + 1] = fmt("%d", v)
    else out[#out + 1] = fmt("%.17g", v) end
  elseif tv == "string" then
    out[#out + 1] = encode_string(v)
  elseif tv == "table" then
    return encode_table(v, out, depth, stack)
  else
    return nil, "cannot encode a value of type " .. tv
  end
  return true
end

-- json.encode(value) -> text | nil, err. Object keys come out sorted.
function json.encode(v)
  local out = {}
  local ok, err = encode_value(v, out, 0, {})
  if not ok then return nil, err end
  return concat(out)
end

-- The decoder: a recursive descent over `s`, returning value, next position,
-- or nil, message.
local decode_value

local function skip(s, i)
  local _, j = find(s, "^[ \n\r\t]*", i)
  return j + 1
end

local function decode_error(s, i, what)
  local line, col = 1, 1
  for k = 1, i - 1 do
    if byte(s, k) == 10 then line, col = line + 1, 1 else col = col + 1 end
  end
  return nil, fmt("json: %s at line %d column %d", what, line, col)
end

local function utf8_of(cp)
  if cp < 0x80 then return char(cp) end
  return utf8.char(cp)
end

local function decode_string(s, i)
  local parts, j = {}, i + 1
  while true do
    local c = byte(s, j)
    if c == nil then return decode_error(s, i, "unterminated string") end
    if c == 34 then return concat(parts), j + 1 end
    if c < 32 then return decode_error(s, j, "control character in string") end
    if c == 92 then
      local e = sub(s, j + 1, j + 1)
      local simple = ({ b = "\b", f = "\f", n = "\n", r = "\r", t = "\t",
                        ['"'] = '"', ["\\"] = "\\", ["/"] = "/" })[e]
      if simple then
        parts[#parts + 1] = simple
        j = j + 2
      elseif e == "u" then
        local hex = sub(s, j + 2, j + 5)
        if not hex:match("^%x%x%x%x$") then return decode_error(s, j, "bad \\u escape") end
        local cp = tonumber(hex, 16)
        j = j + 6
        if cp >= 0xD800 and cp <= 0xDBFF and sub(s, j, j + 1) == "\\u" then
          local lo = tonumber(sub(s, j + 2, j + 5), 16)
          if lo and lo >= 0xDC00 and lo <= 0xDFFF then
            cp = 0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)
            j = j + 6
          end
        end
        parts[#parts + 1] = utf8_of(cp)
      else
        return decode_error(s, j, "bad escape")
      end
    else
      local k = find(s, '["\\%c]', j) or #s + 1
      parts[#parts + 1] = sub(s, j, k - 1)
      j = k
    end
  end
end

local function decode_number(s, i)
  local num = s:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  local v = num and tonumber(num)
  if not v then return decode_error(s, i, "bad number") end
  return v, i + #num
end

local literals = { ["true"] = true, ["false"] = false }

function decode_value(s, i, depth)
  if depth > 200 then return decode_error(s, i, "nested too deeply") end
  i = skip(s, i)
  local c = sub(s, i, i)
  if c == "{" then
    local obj = {}
    i = skip(s, i + 1)
    if sub(s, i, i) == "}" then return obj, i + 1 end
    while true do
      if sub(s, i, i) ~= '"' then return decode_error(s, i, "expected a string key") end
      local k, v
      k, i = decode_string(s, i)
      if k == nil then return nil, i end
      i = skip(s, i)
      if sub(s, i, i) ~= ":" then return decode_error(s, i, "expected ':'") end
      v, i = decode_value(s, i + 1, depth + 1)
      if i == nil or (v == nil and type(i) == "string") then return nil, i end
      obj[k] = v
      i = skip(s, i)
      c = sub(s, i, i)
      if c == "}" then return obj, i + 1 end
      if c ~= "," then return decode_error(s, i, "expected ',' or '}'") end
      i = skip(s, i + 1)
    end
  elseif c == "[" then
    local arr = json.array()
    i = skip(s, i + 1)
    if sub(s, i, i) == "]" then return arr, i + 1 end
    while true do
      local v
      v, i = decode_value(s, i, depth + 1)
      if i == nil or (v == nil and type(i) == "string") then return nil, i end
      arr[#arr + 1] = v
      i = skip(s, i)
      c = sub(s, i, i)
      if c == "]" then return arr, i + 1 end
      if c ~= "," then return decode_error(s, i, "expected ',' or ']'") end
      i = i + 1
    end
  elseif c == '"' then
    return decode_string(s, i)
  elseif c == "-" or c:match("%d") then
    return decode_number(s, i)
  elseif sub(s, i, i + 3) == "null" then
    return json.null, i + 4
  else
    for word, v in pairs(literals) do
      if sub(s, i, i + #word - 1) == word then return v, i + #word end
    end
    if c == "" then return decode_error(s, i, "unexpected end of input") end
    return decode_error(s, i, "unexpected character '" .. c .. "'")
  end
end

-- json.decode(text) -> value | nil, err. null decodes as json.null.
function json.decode(s)
  if type(s) ~= "string" then return nil, "json: expected a string" end
  local v, i = decode_value(s, 1, 0)
  if i == nil or (v == nil and type(i) == "string") then return nil, i end
  i = skip(s, i)
  if i <= #s then return decode_error(s, i, "trailing characters") end
  return v
end

---------------------------------------------------------------------------
-- Classes
---------------------------------------------------------------------------

-- local Point = class("Point")
-- function Point:init(x, y) self.x, self.y = x, y end
-- local p = Point:new(1, 2)   -- or Point(1, 2)
-- local P3 = class("P3", Point); P3:new(1, 2, 3):is_a(Point) == true
local function class(name, parent)
  local c = { __name = name, super = parent }
  c.__index = c
  c.__tostring = function(self)
    local show = rawget(c, "describe")
    if show then return show(self) end
    return name
  end
  function c.new(cls, ...)
    local obj = setmetatable({}, cls)
    if obj.init then obj:init(...) end
    return obj
  end
  function c.is_a(obj, other)
    local k = getmetatable(obj)
    while k do
      if k == other then return true end
      k = k.super
    end
    return false
  end
  return setmetatable(c, {
    __index = parent,
    __call = function(cls, ...) return cls:new(...) end,
    __tostring = function() return "class " .. name end,
  })
end

---------------------------------------------------------------------------
-- A deterministic PRNG: xorshift64* (Lua's integers are 64-bit and its
-- shifts are logical, which is what xorshift wants).
---------------------------------------------------------------------------

local Random = class("Random")

function Random:init(seed)
  seed = seed or 0x2545F4914F6CDD1D
  if seed == 0 then seed = 0x9E3779B97F4A7C15 end
  self.state = seed
end

function Random:next()
  local x = self.state
  x = x ~ (x >> 12)
  x = x ~ (x << 25)
  x = x ~ (x >> 27)
  self.state = x
  return x * 0x2545F4914F6CDD1D
end

-- A float in [0, 1).
function Random:float()
  return (self:next() >> 11) * (1.0 / 9007199254740992.0)
end

-- An integer in [lo, hi] (or [1, lo] with one argument).
function Random:int(lo, hi)
  if hi == nil then lo, hi = 1, lo end
  return lo + floor(self:float() * (hi - lo + 1))
end

function Random:choice(t) return t[self:int(1, #t)] end

function Random:shuffle(t)
  for i = #t, 2, -1 do
    local j = self:int(1, i)
    t[i], t[j] = t[j], t[i]
  end
  return t
end

---------------------------------------------------------------------------
-- The globals
---------------------------------------------------------------------------

lib.tbl, lib.str, lib.json, lib.class, lib.Random = tbl, str, json, class, Random

_G.lib = lib
_G.tbl = tbl
_G.str = str
_G.json = json
_G.class = class
_G.Random = Random

-- The old names some scripts expect as plain globals.
_G.split, _G.trim, _G.startswith = str.split, str.trim, str.startswith
_G.map, _G.filter, _G.reduce = tbl.map, tbl.filter, tbl.reduce
_G.keys, _G.deepcopy, _G.deepeq = tbl.keys, tbl.deepcopy, tbl.deepeq
