-- Drives Neovim 0.7's built-in LSP client against `node dist/server.js --stdio` on the
-- file given on the command line, configured by the README's snippet ($TDX_SNIPPET),
-- and writes what the user would see to $TDX_OUT as JSON. Run by test/e2e/neovim.test.ts.
local out = assert(os.getenv('TDX_OUT'))
-- The user's config: registers the FileType autocmd that starts and attaches the client.
dofile(assert(os.getenv('TDX_SNIPPET')))
local hover_line = tonumber(os.getenv('TDX_HOVER_LINE')) -- 0-based
local hover_col = tonumber(os.getenv('TDX_HOVER_COL'))
local edit_after = tonumber(os.getenv('TDX_EDIT_AFTER')) -- 0-based line to insert after
local edit_text = os.getenv('TDX_EDIT_TEXT')
local result = { steps = {} }

local function finish()
  local f = assert(io.open(out, 'w'))
  f:write(vim.fn.json_encode(result))
  f:close()
  vim.cmd('qa!')
end

local function diags()
  local list = {}
  for _, d in ipairs(vim.diagnostic.get(0)) do
    local code = d.code
    if code == nil and d.user_data and d.user_data.lsp then code = d.user_data.lsp.code end
    table.insert(list, { lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      severity = d.severity, code = code, message = d.message, source = d.source })
  end
  table.sort(list, function(a, b) return a.lnum < b.lnum or (a.lnum == b.lnum and a.col < b.col) end)
  return list
end

local function run()
  local t0 = vim.loop.hrtime()
  local function ms() return math.floor((vim.loop.hrtime() - t0) / 1e6) end
  if vim.bo.filetype ~= 'c' then vim.bo.filetype = 'c' end -- fires the snippet's FileType autocmd if detection did not
  local id
  vim.wait(5000, function()
    for cid, c in pairs(vim.lsp.buf_get_clients(0)) do
      if c.name == 'tdx-audit' then id = cid end
    end
    return id ~= nil
  end, 20)
  assert(id, 'the README snippet attached no tdx-audit client to the buffer')
  result.client_id = id
  result.clients = #vim.lsp.get_active_clients()

  -- 1. diagnostics of the file as opened
  local ok = vim.wait(20000, function() return #vim.diagnostic.get(0) > 0 end, 50)
  result.steps.diagnostics_ms = ms()
  if not ok then error('no diagnostics within 20 s') end
  vim.wait(300) -- let a second publish settle, if any
  result.diagnostics = diags()

  -- 2. hover at a site
  local params = { textDocument = { uri = vim.uri_from_bufnr(0) }, position = { line = hover_line, character = hover_col } }
  local responses = vim.lsp.buf_request_sync(0, 'textDocument/hover', params, 10000)
  result.hover = {}
  for _, r in pairs(responses or {}) do
    if r.error then result.hover_error = r.error.message end
    if r.result and r.result.contents then
      local c = r.result.contents
      table.insert(result.hover, type(c) == 'table' and (c.value or vim.fn.json_encode(c)) or tostring(c))
    end
  end
  result.steps.hover_ms = ms()

  -- 3. an edit that adds a site: the new diagnostic must appear on the inserted line
  local before = #vim.diagnostic.get(0)
  vim.api.nvim_buf_set_lines(0, edit_after + 1, edit_after + 1, false, { edit_text })
  local new_line = edit_after + 1
  -- (the line pushed down had a diagnostic at new_line before the re-audit: wait for the count)
  ok = vim.wait(20000, function()
    if #vim.diagnostic.get(0) ~= before + 1 then return false end
    for _, d in ipairs(vim.diagnostic.get(0)) do
      if d.lnum == new_line and d.message:find('writel', 1, true) then return true end
    end
    return false
  end, 50)
  result.steps.edit_ms = ms()
  result.count_before_edit = before
  result.after_edit = diags()
  if not ok then error('no diagnostic on the inserted line within 20 s') end

  -- 4. the workspace view (tdxAudit/workspaceFindings, what VS Code's TDX Findings shows) and a
  -- triage: after one error is marked safe, nvim's diagnostics, the file summary and the view agree.
  local function request(method, p)
    local r = vim.lsp.buf_request_sync(0, method, p, 10000)
    for _, x in pairs(r or {}) do
      if x.error then error(method .. ': ' .. x.error.message) end
      return x.result
    end
  end
  local function errors()
    return #vim.diagnostic.get(0, { severity = vim.diagnostic.severity.ERROR })
  end
  local uri = vim.uri_from_bufnr(0)
  local function counts()
    local view = request('tdxAudit/workspaceFindings', {})
    local summary = request('tdxAudit/fileSummary', { uri = uri })
    return { nvim_errors = errors(), view_errors = view.totals.errors, view_triaged = view.totals.triaged,
      summary_errors = summary.errors, summary_triaged = summary.triaged, index = view.index.state }
  end
  vim.wait(20000, function() return request('tdxAudit/workspaceFindings', {}).index.state == 'done' end, 200)
  result.before_triage = counts()
  local fp
  for _, d in ipairs(vim.diagnostic.get(0, { severity = vim.diagnostic.severity.ERROR })) do
    local data = d.user_data and d.user_data.lsp and d.user_data.lsp.data
    if data and data.fingerprint then fp = data.fingerprint break end
  end
  assert(fp, 'an error diagnostic with a fingerprint')
  local before_errors = errors()
  result.triage_message = request('workspace/executeCommand', { command = 'tdxAudit.setTriage', arguments = { uri, fp, 'safe', 'nvim e2e: reviewed' } })
  ok = vim.wait(20000, function() return errors() == before_errors - 1 end, 50)
  vim.wait(500) -- the view's change notification is debounced
  result.after_triage = counts()
  result.steps.triage_ms = ms()
  if not ok then error('the triaged error is still an error after 20 s') end

  vim.lsp.stop_client(id)
  vim.wait(3000, function() return vim.lsp.get_client_by_id(id) == nil end, 50)
end

vim.api.nvim_create_autocmd('VimEnter', { callback = function()
  local ok, err = pcall(run)
  if not ok then result.error = tostring(err) end
  finish()
end })
