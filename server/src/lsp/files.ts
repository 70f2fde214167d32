// EngineHost.readFile for the language server: headers come from the editor's buffer
// when open (so unsaved header edits count), else from disk, and only from inside the
// workspace folders, so that a quoted include cannot make the server read arbitrary
// files on the machine.

import { realpathSync } from 'node:fs';
import { tryReadText } from '../fs/safeRead';
import { isAbsolute, normalize, relative, resolve, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { EngineHost } from '../audit/engine';
import type { DocumentStore } from './documents';


/** A file: URI as a path, or undefined for other schemes and malformed URIs. */
export function uriToPath(uri: string): string | undefined {
  if (!uri.startsWith('file:')) return undefined;
  try {
    return fileURLToPath(uri);
  } catch {
    return undefined;
  }
}

/**
 * Normalises what the engine puts in a related location (a URI as given, or an
 * absolute path it resolved) to a URI. Relative paths cannot be resolved reliably
 * and are returned unchanged.
 */
export function toUri(fileOrUri: string): string {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]+:/.test(fileOrUri) && !/^[a-zA-Z]:[\\/]/.test(fileOrUri)) return fileOrUri;
  if (isAbsolute(fileOrUri)) return pathToFileURL(fileOrUri).href;
  return fileOrUri;
}

function samePath(a: string, b: string): boolean {
  // Windows and macOS file systems are case-insensitive by default; VS Code's URIs
  // also lower-case drive letters.
  return process.platform === 'linux' ? a === b : a.toLowerCase() === b.toLowerCase();
}

function inside(folder: string, path: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

export class WorkspaceFiles implements EngineHost {
  private folders: string[] = [];
  /**
   * Whether the client reports changes on disk (the server registered its file
   * watchers): only then can a header walk be kept between two audits (headerEpoch).
   */
  watching = false;
  /** Changes on disk the client reported, and workspace folder changes. */
  private diskChanges = 0;

  constructor(
    private readonly documents: DocumentStore,
    private readonly log: (message: string) => void,
  ) {}

  /** Workspace folder URIs (or root URI); non-file URIs are ignored. */
  setFolders(uris: readonly string[]): void {
    const paths: string[] = [];
    for (const uri of uris) {
      const p = uriToPath(uri);
      if (p) paths.push(realOrSelf(normalize(p)));
    }
    this.folders = paths;
    this.diskChanges++;
  }

  addFolders(uris: readonly string[]): void {
    this.setFolders([...this.folders.map((p) => pathToFileURL(p).href), ...uris]);
  }

  removeFolders(uris: readonly string[]): void {
    const gone = uris.map(uriToPath).filter((p): p is string => !!p).map((p) => realOrSelf(normalize(p)));
    this.folders = this.folders.filter((f) => !gone.some((g) => samePath(f, g)));
    this.diskChanges++;
  }

  /** A header, source or compile database changed on disk (a watched-file event). */
  changedOnDisk(): void {
    this.diskChanges++;
  }

  /**
   * EngineHost.headerEpoch: changes whenever something `file`'s header walk reads may
   * have: a file on disk (as the client's watchers report it), the workspace folders,
   * or another open document's text. Undefined while nothing reports disk changes.
   */
  headerEpoch(file: string): number | undefined {
    return this.watching ? this.diskChanges + this.documents.revisionsOfOthers(file) : undefined;
  }

  private readonly logged = new Set<string>();

  /** Each header problem once: the engine asks again at every keystroke. */
  private logOnce(message: string): void {
    if (this.logged.has(message) || this.logged.size > 1000) return;
    this.logged.add(message);
    this.log(`not followed: ${message}`);
  }

  get folderPaths(): readonly string[] {
    return this.folders;
  }

  allowed(path: string): boolean {
    const real = realOrSelf(resolve(path));
    return this.folders.some((f) => inside(f, real));
  }

  readFile(path: string): string | undefined {
    if (!isAbsolute(path)) return undefined;
    const wanted = normalize(path);
    if (!this.allowed(wanted)) return undefined;
    for (const doc of this.documents.all()) {
      const p = uriToPath(doc.uri);
      if (p && samePath(normalize(p), wanted)) return doc.text;
    }
    // Symlinks resolved and judged against the folders again, regular files only,
    // one size cap (fs/safeRead): `#include "zero.h"` with zero.h -> /dev/zero is refused.
    const r = tryReadText(wanted, { roots: this.folders });
    if ('text' in r) return r.text;
    if (r.kind !== 'missing') this.logOnce(r.why);
    return undefined;
  }
}

function realOrSelf(p: string): string {
  try {
    return realpathSync.native(p);
  } catch {
    return p;
  }
}
