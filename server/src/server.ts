// The tdx-audit language server's entry: makes the connection (VS Code's --node-ipc,
// or `node dist/server.js --stdio` for Neovim, Emacs and other editors) and hands
// the client's initialize to TdxServer (lsp/server.ts), which holds everything else.

import { killAllCompiles, removeAllCompileDirs } from './audit/compile';
import { makeConnection } from './lsp/connection';
import { SERVER_INFO, TdxServer } from './lsp/server';

let server: TdxServer | undefined;

// stdin gone: exit as vscode-languageserver does (0 after shutdown, else 1); the
// 'exit' handler below kills any compile still running.
const connection = makeConnection(() => process.exit(server?.isShuttingDown ? 0 : 1));

connection.onInitialize((params) => {
  server = TdxServer.create(connection, params);
  server.register();
  return { capabilities: server.capabilities(), serverInfo: SERVER_INFO };
});

// However the server ends (exit without shutdown, stdin closed, a signal), no
// compile it started may outlive it.
process.on('exit', () => {
  killAllCompiles();
  removeAllCompileDirs();
});
for (const sig of ['SIGTERM', 'SIGHUP', 'SIGINT'] as const) {
  process.on(sig, () => {
    killAllCompiles();
    process.exit(sig === 'SIGTERM' ? 143 : sig === 'SIGHUP' ? 129 : 130);
  });
}

// One file's bug surfacing asynchronously (a timer callback) must not take the server down.
process.on('uncaughtException', (err) => server?.failure(undefined, 'the server', err));
process.on('unhandledRejection', (err) => server?.failure(undefined, 'the server', err));

connection.listen();
