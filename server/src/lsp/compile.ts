// Compiling one source on demand (a save with tdxAudit.compile.onSave, or the
// "Compile File for Compiled Forms" command): its compile_commands.json entry run
// into a temporary folder with debug info, and the new object joined by a fresh
// audit. Trusted workspaces only; argv, no shell, a timeout, and a newer request
// for the same file cancels the older compile.

import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { compileEntry, findCompileEntry, killAllCompiles, removeAllCompileDirs, removeCompileDir } from '../audit/compile';
import type { AuditEngine } from '../audit/engine';
import type { ServerSettings } from './config';
import { uriToPath } from './files';
import { errorText } from './service';

export interface CompileHost {
  trusted(): boolean;
  /** The engine once started (undefined when it failed to). */
  engine(): Promise<AuditEngine | undefined>;
  folders(): readonly string[];
  settings(): ServerSettings;
  shuttingDown(): boolean;
  /** Audit the document again (its object changed). */
  refresh(uri: string): void;
  setBusy(message: string | undefined): void;
  info(message: string): void;
  failure(uri: string | undefined, what: string, err: unknown): void;
}

export class Compiler {
  /** Running compiles by source path, so a newer save cancels an older compile. */
  private readonly running = new Map<string, AbortController>();

  constructor(private readonly host: CompileHost) {}

  /** compile_commands.json files that may describe a workspace source. */
  databases(): string[] {
    const dirs = [...this.host.folders()];
    const bd = this.host.settings().engine.objects?.buildDir;
    if (bd) dirs.unshift(bd);
    return dirs.map((d) => join(d, 'compile_commands.json')).filter((p) => existsSync(p));
  }

  /** Compiles the source and re-audits it with the new object; returns what to tell the user. */
  async compile(uri: string, reason: 'save' | 'command'): Promise<string> {
    const host = this.host;
    if (!host.trusted()) return 'Untrusted workspace: tdx-audit never runs a compiler here.';
    const path = uriToPath(uri);
    if (!path) return 'Not a file on disk.';
    const engine = await host.engine();
    if (!engine) return 'The audit engine is not running (see the TDX Audit output).';
    const dbs = this.databases();
    const entry = findCompileEntry(path, dbs);
    if (!entry) {
      return dbs.length
        ? `${basename(path)} is not in ${dbs.map((d) => basename(dirname(d)) + '/compile_commands.json').join(', ')}`
        : 'No compile_commands.json in the workspace or build directory (the kernel writes one with `make compile_commands.json`).';
    }
    this.running.get(path)?.abort();
    const ac = new AbortController();
    this.running.set(path, ac);
    host.setBusy(`compiling ${basename(path)}`);
    try {
      const r = await compileEntry(entry, { timeoutMs: host.settings().compile.timeoutMs, signal: ac.signal });
      if (host.shuttingDown()) return 'shutting down';
      const old = engine.objects.compiled.get(path);
      engine.objects.compiled.set(path, r.object);
      if (old && old !== r.object) removeCompileDir(old);
      host.refresh(uri);
      for (const d of r.dropped) host.info(`compile of ${basename(path)}: left out ${d.arg}: ${d.why}`);
      const left = r.dropped.length ? ` Left out of the database's command: ${r.dropped.map((d) => `${d.arg} (${d.why})`).join(', ')}.` : '';
      return `Compiled ${basename(path)} in ${(r.ms / 1000).toFixed(1)} s (${reason}).${left}`;
    } catch (err) {
      if (ac.signal.aborted) return 'cancelled';
      host.failure(uri, `compiling ${basename(path)}`, err);
      return errorText(err);
    } finally {
      if (this.running.get(path) === ac) this.running.delete(path);
      host.setBusy(undefined);
    }
  }

  /** Stops every compile and removes their temporary folders. */
  dispose(): void {
    for (const ac of this.running.values()) ac.abort();
    killAllCompiles();
    removeAllCompileDirs();
  }
}
