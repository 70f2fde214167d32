// tsconfig's "moduleResolution": "node" predates package.json "exports", and the
// vscode-languageserver 11 packages publish their typings only through "exports".
// These declarations point the subpath imports at the same .d.ts files; esbuild and
// Node resolve the real modules through "exports" as usual. Unused (TypeScript
// prefers a resolved file) once tsconfig moves to node16/bundler resolution.

declare module 'vscode-languageserver' {
  export * from 'vscode-languageserver/lib/common/api';
}
declare module 'vscode-languageserver/node' {
  export * from 'vscode-languageserver/lib/node/main';
}
declare module 'vscode-languageserver-protocol' {
  export * from 'vscode-languageserver-protocol/lib/common/api';
}
declare module 'vscode-languageserver-protocol/node' {
  export * from 'vscode-languageserver-protocol/lib/node/main';
}
