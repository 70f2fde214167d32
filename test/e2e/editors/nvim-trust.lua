-- Neovim 0.7's LSP client on the file given on the command line, started with
-- init_options from $TDX_INIT_OPTIONS (JSON, or empty for none, as the README snippet
-- sends), waits for the diagnostics (and for a second publish, the object's), hovers at
-- $TDX_HOVER_LINE:$TDX_HOVER_COL and writes what it saw to $TDX_OUT. Run by
-- test/e2e/neovim.test.ts to show what workspace trust means to a client without it.
local out = assert(os.getenv('TDX_OUT'))
local init = os.getenv('TDX_INIT_OPTIONS')
local result = {}

local function finish()
  local f = assert(io.open(out, 'w'))
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd('qa!')
end

local function run()
  local cfg = { name = 'tdx-audit', cmd = { 'node', assert(os.getenv('TDX_SERVER')), '--stdio' }, root_dir = vim.fn.getcwd() }
  if init and init ~= '' then cfg.init_options = vim.fn.json_decode(init) end
  local id = vim.lsp.start_client(cfg)
  vim.lsp.buf_attach_client(0, id)
  if not vim.wait(20000, function() return #vim.diagnostic.get(0) > 0 end, 50) then error('no diagnostics within 20 s') end
  vim.wait(1500) -- the object's join may publish again
  result.messages = {}
  for _, d in ipairs(vim.diagnostic.get(0)) do
    if d.lnum == tonumber(os.getenv('TDX_HOVER_LINE')) then table.insert(result.messages, { severity = d.severity, message = d.message }) end
  end
  local params = { textDocument = { uri = vim.uri_from_bufnr(0) }, position = { line = tonumber(os.getenv('TDX_HOVER_LINE')), character = tonumber(os.getenv('TDX_HOVER_COL')) } }
  result.hover = ''
  for _, r in pairs(vim.lsp.buf_request_sync(0, 'textDocument/hover', params, 10000) or {}) do
    if r.result and r.result.contents then result.hover = result.hover .. (r.result.contents.value or '') end
  end
end

vim.defer_fn(function()
  local ok, err = pcall(run)
  if not ok then result.error = tostring(err) end
  finish()
end, 50)
