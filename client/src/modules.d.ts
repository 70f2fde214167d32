// tsconfig's "moduleResolution": "node" predates package.json "exports", through
// which vscode-languageclient 11 publishes its typings. This points the import at
// the same .d.ts; esbuild resolves the real module through "exports". Unused once
// tsconfig moves to node16/bundler resolution (TypeScript prefers a resolved file).

declare module 'vscode-languageclient/node' {
  export * from 'vscode-languageclient/lib/node/main';
}
