// Finding and opening the object that holds a source file's code: the .o beside
// it (in-tree build), the same relative path under a build directory (O=
// builds), a .ko or any object under an explicit objects folder, or vmlinux.
// Opened objects are cached by path + mtime + size, so an edit loop reuses one
// parse and a rebuild is picked up at once.
//
// Inside an object, the compile unit of a source is found as a debugger finds
// it (gdb's substitute-path, lldb's source-map): by the unit's DW_AT_name under
// its DW_AT_comp_dir; then by an explicit path mapping; then by the source's path
// relative to the tree root as the tail of the unit's path (a tree built
// elsewhere, Debian's debian/build/build_amd64_none_amd64/drivers/...); and, for
// an object that sits where the source's own object belongs, by file name alone.
// The join then compares line rows with the path the object names (unitPath),
// not with where the file happens to be now.

import { forgetUnitFacts } from './compiled/facts';
import { closeSync, openSync, readdirSync, readSync, statSync } from 'node:fs';
import { checkRegular, SafeReadError, safeReadBytes, safeReadHead } from '../fs/safeRead';
import { basename, dirname, join, posix, relative, resolve, sep } from 'node:path';
import { openBinary, normalizePath, ElfError, DwarfError, FileSectionSource, type BinaryObject, type DwarfUnit, type OpenBinaryOptions } from '../binary/index';
import { codeOf, type ObjectCode } from './code';
import type { ObjectInfo } from './compiled';

export interface ObjectSearch {
  /** Build directory of an O= build; sources are looked up by their path relative to `sourceRoot`. */
  buildDir?: string;
  /** Root of the source tree (workspace folder or kernel tree). */
  sourceRoot?: string;
  /** Folders or files given explicitly (CLI --objects). */
  objects?: string[];
  /** A linked kernel image with DWARF. */
  vmlinux?: string;
  /**
   * Path substitutions, tried in order, like gdb's `set substitute-path FROM TO`: a
   * unit whose path (comp_dir joined) starts with `from` is the file under `to`.
   */
  pathMap?: PathMapping[];
}

export interface PathMapping {
  from: string;
  to: string;
}

/** Why an object was tried for a source (see matchUnits). */
export type ObjectPlace = 'placed' | 'named' | 'many';

/** How a source was tied to a compile unit of its object. */
export type UnitMatch = 'name' | 'path-map' | 'tail' | 'file-name';

export interface OpenedObject {
  path: string;
  mtimeMs: number;
  size: number;
  bin: BinaryObject;
  code: ObjectCode;
  /**
   * What joins computed from this object's units (compiled/match.ts flowFor), by the
   * units and names they were computed for; cleared when the units are released.
   */
  joins?: Map<string, unknown>;
  /**
   * A linked image's bytes as memory other threads can use, when it was opened from
   * such (another thread's, shareImage, or read here by load()): what sharedImages
   * hands an export's worker.
   */
  shared?: SharedImage;
}

/** A linked image's bytes as read by readSharedImage: memory every thread of a process can use. */
export interface SharedImage {
  path: string;
  mtimeMs: number;
  size: number;
  bytes: SharedArrayBuffer;
  /** .debug_info was left in the file: each thread reads it unit by unit (FileSectionSource). */
  infoFromFile?: boolean;
}

export interface ObjectCandidate {
  path: string;
  origin: NonNullable<ObjectInfo['origin']>;
  /** Read as a linked image (vmlinux: section by section). */
  image?: boolean;
  /** An object file named by itself (not found in a folder). */
  file?: boolean;
}

export interface ObjectChoice {
  object: OpenedObject | undefined;
  units: DwarfUnit[];
  info: ObjectInfo;
  /**
   * The source's path as the object names it (DW_AT_name under DW_AT_comp_dir,
   * normalised): what line rows and inlined calls of this file carry. The join
   * compares DWARF paths with this, not with where the file is now.
   */
  unitPath?: string;
  /** How the unit was found (name and comp_dir, the path map, the tail under the tree root, or the file name). */
  matchedBy?: UnitMatch;
}

/** Objects bigger than this are only opened when named as vmlinux (they are read whole). */
const MAX_OBJECT_BYTES = 64 << 20;
const MAX_IMAGE_BYTES = 2047 << 20;
/** Sources whose image units stay decoded (see keepUnits). */
const IMAGE_UNIT_SETS = 8;
/** Objects other than images kept open in a batch run (ObjectStore.batchMode). */
const BATCH_OPEN = 4;
/** Cap on files visited when indexing an --objects folder. */
const MAX_INDEXED_FILES = 200_000;

function errorText(e: unknown): string {
  if (e instanceof ElfError || e instanceof DwarfError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export class ObjectStore {
  private readonly open = new Map<string, OpenedObject>();
  /** Paths opened as linked images (never dropped by the open cache). */
  private readonly images = new Set<string>();
  private readonly failures = new Map<string, { mtimeMs: number; size: number; message: string }>();
  private readonly folderIndex = new Map<string, Map<string, string[]>>();
  /** Objects compiled on demand (compile.ts), by absolute source path: tried first. */
  readonly compiled = new Map<string, string>();
  /**
   * File names of the units each object read so far holds (by path, with the
   * mtime and size they were read at): a module of another file is not opened
   * again for every source of the tree once the open cache has dropped it.
   */
  private readonly unitNames = new Map<string, { mtimeMs: number; size: number; names: Set<string> }>();
  /** Unit sets of the sources last joined against each image, oldest first. */
  private readonly imageUnits = new WeakMap<OpenedObject, DwarfUnit[][]>();
  /** Most recently used last; images are large, so only a few stay open. */
  private maxOpen: number;
  /** See batchMode(). */
  private batch = false;
  /** Images read once by another thread (shareImage): their bytes, used while the file is unchanged. */
  private readonly shared = new Map<string, SharedImage>();
  /** Bytes of the linked images this store read itself (not shared), by path. */
  private readonly ownImageBytes = new Map<string, number>();

  constructor(maxOpen = 16) {
    this.maxOpen = maxOpen;
  }

  /**
   * A batch run (the CLI's report and scan): each source is joined once, in path
   * order, and not asked about again. Every object, not only a linked image, then
   * keeps only the last source's units decoded (a module of 60 files otherwise holds
   * all 60 units' DIEs, line rows and dataflow until it is closed: over a kernel's
   * modules, gigabytes), and at most BATCH_OPEN modules stay open.
   */
  /**
   * Bytes of a linked image another thread already read (readSharedImage), used
   * instead of reading the file again while its mtime and size are unchanged: two
   * report workers share one copy of vmlinux's 200 MB of code and DWARF.
   */
  shareImage(image: SharedImage): void {
    this.shared.set(image.path, image);
  }

  batchMode(): void {
    this.batch = true;
    this.maxOpen = Math.min(this.maxOpen, BATCH_OPEN);
  }

  /**
   * Opens an object, or returns why not. A cached parse is reused while the
   * file's mtime and size are unchanged.
   */
  load(path: string, image = false): OpenedObject | { error: string } {
    let st;
    try {
      // Resolves links (a loop is said as a loop), refuses FIFOs and devices unopened.
      st = checkRegular(path, { maxBytes: Number.MAX_SAFE_INTEGER });
    } catch (e) {
      return { error: e instanceof SafeReadError ? e.message : `${path}: ${errorText(e)}` };
    }
    const hit = this.open.get(path);
    if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) {
      this.open.delete(path);
      this.open.set(path, hit);
      return hit;
    }
    const failed = this.failures.get(path);
    if (failed && failed.mtimeMs === st.mtimeMs && failed.size === st.size) return { error: failed.message };
    try {
      // The ELF header before anything else: a 2 GB file that is not ELF is refused
      // after 64 bytes instead of being read whole, and said to be what it is.
      const head = safeReadHead(path, 64).head;
      if (head.length < 4 || head.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${path}: not an ELF file`);
      if (st.size > (image ? MAX_IMAGE_BYTES : MAX_OBJECT_BYTES)) throw new Error(`${path}: ${(st.size / 1048576).toFixed(0)} MB is too large to open as an object`);
      const given = this.shared.get(path);
      let data: Buffer | undefined;
      /** The bytes read below into memory threads share, for a linked image. */
      let readShared: SharedImage | undefined;
      let infoFrom: OpenBinaryOptions['infoFrom'];
      const useGiven = given !== undefined && given.mtimeMs === st.mtimeMs && given.size === st.size;
      if (useGiven) {
        data = Buffer.from(given.bytes);
        if (given.infoFromFile) infoFrom = (sec) => new FileSectionSource(path, sec.offset, sec.size, { size: st.size, mtimeMs: st.mtimeMs });
      } else if (st.size > SPARSE_READ_BYTES) {
        // .debug_info (170 MB in a vmlinux) stays in the file, read unit by unit. A
        // linked image goes into memory threads can share (sharedImages): the same
        // bytes, and an export's worker uses them instead of reading vmlinux again.
        let bytes: SharedArrayBuffer | undefined;
        const alloc = image ? (n: number) => Buffer.from((bytes = new SharedArrayBuffer(n))) : undefined;
        data = readSparse(path, st.size, alloc, { infoFromFile: true });
        if (data) infoFrom = (sec) => new FileSectionSource(path, sec.offset, sec.size, { size: st.size, mtimeMs: st.mtimeMs });
        if (data && bytes) readShared = { path, mtimeMs: st.mtimeMs, size: st.size, bytes, infoFromFile: true };
      }
      data ??= safeReadBytes(path, { maxBytes: Number.MAX_SAFE_INTEGER });
      const bin = openBinary(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), { infoFrom });
      if (bin.elf.machine !== 62) throw new Error(`${path}: not an x86-64 object (e_machine ${bin.elf.machine})`);
      if (!bin.dwarf.hasDebugInfo) {
        const stripped = !bin.elf.sectionByName('.symtab');
        throw new Error(stripped
          ? `${path}: is stripped (no symbols, no DWARF); use the unstripped object or a -dbg package's vmlinux`
          : `${path}: has no DWARF (.debug_info); build with debug info (-g, CONFIG_DEBUG_INFO)`);
      }
      const shared = useGiven ? given : readShared;
      const o: OpenedObject = { path, mtimeMs: st.mtimeMs, size: st.size, bin, code: codeOf(bin), ...(shared ? { shared } : {}) };
      this.open.set(path, o);
      if (image) this.images.add(path);
      if (image && !useGiven) this.ownImageBytes.set(path, data.byteLength);
      // A linked image stays open: re-reading vmlinux because 16 modules were opened
      // after it would cost seconds for every source of a tree.
      for (const k of [...this.open.keys()]) {
        if (this.open.size - this.images.size <= this.maxOpen) break;
        if (!this.images.has(k)) this.open.delete(k);
      }
      this.failures.delete(path);
      return o;
    } catch (e) {
      const message = errorText(e).startsWith(path) ? errorText(e) : `${path}: ${errorText(e)}`;
      this.failures.set(path, { mtimeMs: st.mtimeMs, size: st.size, message });
      return { error: message };
    }
  }

  /**
   * A linked image stays open for a whole tree, and each unit the join reads keeps
   * its decoded DIEs and line rows: over every built-in file of a kernel that is
   * gigabytes. The units of the last IMAGE_UNIT_SETS sources stay decoded (an
   * editor switching between a few files re-decodes nothing); older ones are
   * released, with the image's decoded instructions. In a batch run only the last
   * source's units stay, in every object.
   */
  private keepUnits(o: OpenedObject, units: DwarfUnit[]): void {
    const keep = this.batch ? 1 : IMAGE_UNIT_SETS;
    const sets = this.imageUnits.get(o) ?? [];
    this.imageUnits.set(o, sets);
    const k = sets.findIndex((u) => u.length === units.length && u.every((x, i) => x === units[i]));
    if (k >= 0) sets.splice(k, 1);
    sets.push(units);
    if (sets.length <= keep) return;
    const dropped = sets.shift()!;
    const kept = new Set(sets.flat());
    for (const u of dropped) {
      if (kept.has(u)) continue;
      u.release();
      forgetUnitFacts(u);
    }
    o.code.release();
    o.joins?.clear();
  }

  /**
   * Bytes of the linked images this store holds for a whole run: those another
   * thread read (shareImage) and those it read itself. A batch worker's footprint
   * leaves them out (cli/pool.ts workerFootprintMb): a fresh worker holds them again,
   * so replacing a worker for them frees nothing and re-reads vmlinux for every file.
   */
  heldImageBytes(): number {
    let n = 0;
    for (const s of this.shared.values()) n += s.bytes.byteLength;
    for (const [p, b] of this.ownImageBytes) if (this.open.has(p)) n += b;
    return n;
  }

  forget(path: string): void {
    this.open.delete(path);
    this.images.delete(path);
    this.ownImageBytes.delete(path);
    this.failures.delete(path);
  }

  /**
   * The linked images open here as memory another thread can use, read by this
   * store or given to it: what the server hands an export's worker thread, so the
   * worker opens vmlinux from the bytes the server holds instead of reading 600 MB
   * of it again. An image whose file changed since it was read is left out.
   */
  sharedImages(): SharedImage[] {
    const out: SharedImage[] = [];
    for (const path of this.images) {
      const s = this.open.get(path)?.shared;
      if (s) out.push(s);
    }
    return out;
  }

  /** Open linked images whose bytes another thread read (shareImage): not read by this one. */
  imagesFromOtherThreads(): string[] {
    return [...this.images].filter((p) => {
      const s = this.open.get(p)?.shared;
      return s !== undefined && s === this.shared.get(p);
    });
  }

  /** Object files under a folder by basename (cached; call refreshFolders() after a build). */
  private indexFolder(dir: string): Map<string, string[]> {
    let idx = this.folderIndex.get(dir);
    if (idx) return idx;
    idx = new Map();
    let visited = 0;
    const walk = (d: string, depth: number) => {
      if (depth > 32 || visited > MAX_INDEXED_FILES) return;
      let ents;
      try {
        ents = readdirSync(d, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of ents) {
        if (++visited > MAX_INDEXED_FILES) return;
        if (e.isDirectory()) {
          if (e.name === '.git' || e.name === 'node_modules') continue;
          walk(join(d, e.name), depth + 1);
        } else if (e.isFile() && (e.name.endsWith('.o') || e.name.endsWith('.ko'))) {
          const list = idx!.get(e.name) ?? [];
          list.push(join(d, e.name));
          idx!.set(e.name, list);
        }
      }
    };
    walk(dir, 0);
    this.folderIndex.set(dir, idx);
    return idx;
  }

  refreshFolders(): void {
    this.folderIndex.clear();
  }

  /** Candidate object paths for a source, most specific first. */
  candidates(source: string, search: ObjectSearch): ObjectCandidate[] {
    const out: ObjectCandidate[] = [];
    const src = resolve(source);
    const stem = basename(src).replace(/\.[^.]+$/, '');
    const fresh = this.compiled.get(src);
    if (fresh) out.push({ path: fresh, origin: 'compiled' });
    out.push({ path: join(dirname(src), stem + '.o'), origin: 'beside-source' });
    if (search.buildDir && search.sourceRoot) {
      const rel = relative(resolve(search.sourceRoot), src);
      if (!rel.startsWith('..') && !rel.startsWith(sep)) {
        out.push({ path: join(resolve(search.buildDir), dirname(rel), stem + '.o'), origin: 'build-dir' });
      }
    }
    for (const o of search.objects ?? []) {
      const p = resolve(o);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isFile()) out.push({ path: p, origin: 'explicit', file: true });
      else if (st.isDirectory()) {
        const idx = this.indexFolder(p);
        const byName = idx.get(stem + '.o') ?? [];
        // Prefer the object whose relative path matches the source's tail.
        const ranked = byName
          .map((c) => ({ c, score: sharedTail(c.replace(/\.o$/, ''), src.replace(/\.[^.]+$/, '')) }))
          .sort((a, b) => b.score - a.score);
        for (const r of ranked) out.push({ path: r.c, origin: 'explicit' });
        for (const k of modulesFor(p, idx, src)) out.push({ path: k, origin: 'module' });
      }
    }
    if (search.vmlinux) out.push({ path: resolve(search.vmlinux), origin: 'vmlinux', image: true });
    return dedupe(out);
  }

  /**
   * The first candidate that opens and has a compile unit for `source`.
   * The ObjectInfo says what was found and why others were not used; when
   * objects opened but none names this file, one line says which path the
   * nearest one names and which the file has.
   */
  find(source: string, search: ObjectSearch): ObjectChoice {
    const tried: string[] = [];
    let broken = false;
    let sourceMtimeMs: number | undefined;
    let nearest: { object: string; unit: string } | undefined;
    try {
      sourceMtimeMs = statSync(source).mtimeMs;
    } catch {
      sourceMtimeMs = undefined;
    }
    const src = resolve(source);
    const stem = basename(src);
    for (const c of this.candidates(source, search)) {
      // A module or image already read once and holding no unit of this file name is not opened again.
      const names = this.unitNames.get(c.path);
      if (names && c.origin !== 'compiled' && c.origin !== 'beside-source' && c.origin !== 'build-dir') {
        const st = statOrUndefined(c.path);
        if (st && st.mtimeMs === names.mtimeMs && st.size === names.size && !names.names.has(stem)) continue;
      }
      const r = this.load(c.path, c.image);
      if ('error' in r) {
        if (!/no such file/.test(r.error)) {
          tried.push(r.error);
          broken = true;
        }
        continue;
      }
      if (!names || names.mtimeMs !== r.mtimeMs || names.size !== r.size) this.unitNames.set(c.path, { mtimeMs: r.mtimeMs, size: r.size, names: new Set(unitIndex(r.bin).keys()) });
      const place: ObjectPlace =
        c.origin === 'beside-source' || c.origin === 'compiled' || c.origin === 'build-dir' || (c.origin === 'explicit' && c.file === true)
          ? 'placed'
          : c.origin === 'explicit' ? 'named' : 'many';
      const m = matchUnits(r.bin, src, search, place);
      if ('units' in m && !rowsName(m.units, m.unitPath)) {
        // The unit was found, but its line table names the file by another path:
        // every site would read "no code at this line", which is false.
        if (!nearest) nearest = { object: r.path, unit: rowFiles(m.units)[0] ?? m.unitPath };
        continue;
      }
      if ('units' in m) {
        if (c.image || this.batch) this.keepUnits(r, m.units);
        const producer = m.units[0]!.producer;
        return {
          object: r,
          units: m.units,
          unitPath: m.unitPath,
          matchedBy: m.matchedBy,
          info: {
            path: r.path,
            state: 'fresh',
            message: '',
            mtimeMs: r.mtimeMs,
            sourceMtimeMs,
            origin: c.origin,
            producer,
          },
        };
      }
      if (m.nearest && !nearest) nearest = { object: r.path, unit: m.nearest };
      // vmlinux and modules hold most files of a tree but not every one: not finding one there is not a fault.
      if (place !== 'many' && !m.nearest) tried.push(`${c.path}: no compile unit for ${basename(source)}`);
    }
    if (nearest) {
      // The object holds this file's name under another path: say both, and the mapping that would join them.
      const hint = suggestMapping(nearest.unit, src);
      const message =
        `${nearest.object} names ${nearest.unit}, this file is ${src}: no compile unit matches by path` +
        (search.sourceRoot ? ` or by its path under ${search.sourceRoot}` : '') +
        (hint ? `; map it with tdxAudit.objects.pathMap or --path-map ${hint.from}=${hint.to}` : '');
      return { object: undefined, units: [], info: { path: undefined, state: 'missing', message, sourceMtimeMs } };
    }
    const message = tried.length
      ? `no usable object for ${basename(source)}: ${tried.slice(0, 3).join('; ')}`
      : `no object found for ${basename(source)} (looked for ${basename(source).replace(/\.[^.]+$/, '.o')} beside it${search.buildDir ? ', under the build directory' : ''}${search.objects?.length ? ', under the objects given' : ''}${search.vmlinux ? ', in vmlinux' : ''})`;
    // An object that opened but holds no unit for the file is not broken: the file is just not in it.
    return { object: undefined, units: [], info: { path: undefined, state: broken ? 'unusable' : 'missing', message, sourceMtimeMs } };
  }
}

function statOrUndefined(p: string): { mtimeMs: number; size: number } | undefined {
  try {
    const st = statSync(p);
    return { mtimeMs: st.mtimeMs, size: st.size };
  } catch {
    return undefined;
  }
}

/** Whether any line row of the units is in `path` (their own source, not only headers). */
function rowsName(units: DwarfUnit[], path: string): boolean {
  let any = false;
  for (const u of units) {
    for (const r of u.lineRows()) {
      if (r.endSequence || !r.file) continue;
      any = true;
      if (isTailOf(normalizePath(r.file), path) || isTailOf(path, normalizePath(r.file))) return true;
    }
  }
  // A unit without code (only declarations) has no rows to disagree with.
  return !any;
}

/** The files the units' line rows name (at most four), for a message. */
function rowFiles(units: DwarfUnit[]): string[] {
  const out = new Set<string>();
  for (const u of units) for (const r of u.lineRows()) if (r.file && !r.endSequence && out.size < 4) out.add(r.file);
  return [...out];
}

/** A unit's source path as DWARF names it: DW_AT_name under DW_AT_comp_dir, normalised. */
export function unitSourcePath(u: Pick<DwarfUnit, 'name' | 'compDir'>): string | undefined {
  const name = u.name;
  if (!name) return undefined;
  return normalizePath(name.startsWith('/') || !u.compDir ? name : `${u.compDir}/${name}`);
}

interface IndexedUnit {
  unit: DwarfUnit;
  /** Raw DW_AT_name, normalised. */
  name: string;
  /** comp_dir joined. */
  path: string;
}

const unitIndexes = new WeakMap<BinaryObject, Map<string, IndexedUnit[]>>();

/** Compile units by the file name of their source (one pass over the unit headers per object). */
function unitIndex(bin: BinaryObject): Map<string, IndexedUnit[]> {
  let idx = unitIndexes.get(bin);
  if (idx) return idx;
  idx = new Map();
  for (const unit of bin.dwarf.compileUnits()) {
    const raw = unit.name;
    const path = unitSourcePath(unit);
    if (!raw || !path) continue;
    const k = posix.basename(path);
    const list = idx.get(k) ?? [];
    list.push({ unit, name: normalizePath(raw), path });
    idx.set(k, list);
  }
  unitIndexes.set(bin, idx);
  return idx;
}

/** `a` is `b` or a '/'-aligned tail of it. */
function isTailOf(a: string, b: string): boolean {
  return a === b || (b.endsWith(a) && (a.startsWith('/') || b[b.length - a.length - 1] === '/'));
}

function toPosix(p: string): string {
  return sep === '/' ? p : p.split(sep).join('/');
}

/**
 * The compile units of `bin` that hold `source` (absolute), and the path they
 * name it by; else the path of the unit of the same file name that comes
 * nearest, for the message.
 * `place`: 'placed' when the object sits where this source's own object belongs
 * (beside it, at its place under the build directory, compiled from it, or named
 * alone), so a unit of the same file name is this file even when no path agrees;
 * 'named' when it was picked by the source's name from a folder; 'many' for a
 * module or image, which holds many files of a tree.
 */
export function matchUnits(
  bin: BinaryObject,
  source: string,
  search: Pick<ObjectSearch, 'sourceRoot' | 'pathMap'>,
  place: ObjectPlace,
): { units: DwarfUnit[]; unitPath: string; matchedBy: UnitMatch } | { nearest?: string } {
  const q = normalizePath(toPosix(source));
  const same = unitIndex(bin).get(posix.basename(q)) ?? [];
  if (!same.length) return {};
  const pick = (hits: IndexedUnit[], matchedBy: UnitMatch) => ({ units: hits.map((h) => h.unit), unitPath: hits[0]!.path, matchedBy });
  // A tail names one file: units of two different paths that both end with it are not this file's.
  const one = (hits: IndexedUnit[]) => hits.length > 0 && hits.every((h) => h.path === hits[0]!.path);
  // The source's path under the tree root, when it is inside it.
  let rel: string | undefined;
  if (search.sourceRoot) {
    const r = toPosix(relative(resolve(search.sourceRoot), source));
    if (r && !r.startsWith('..') && !r.startsWith('/')) rel = normalizePath(r);
  }
  // 1. The unit's name under its comp_dir is the file; or a relative name (Kbuild's
  //    drivers/ata/libahci.c) is a tail of it. Under a known tree root the whole
  //    path under the root must be the name's tail: vmlinux's lib/iomap_copy.c is
  //    not arch/mips/lib/iomap_copy.c.
  let hits = same.filter((h) => h.path === q);
  if (hits.length) return pick(hits, 'name');
  hits = same.filter((h) => !h.name.startsWith('/') && isTailOf(h.name, q) && (!rel || isTailOf(rel, h.name)));
  if (one(hits)) return pick(hits, 'tail');
  // 2. An explicit substitution, FROM (as the object names it) -> TO (where it is here).
  for (const m of search.pathMap ?? []) {
    const from = normalizePath(toPosix(m.from));
    const to = normalizePath(toPosix(m.to));
    hits = same.filter((h) => {
      for (const p of [h.path, h.name]) {
        if (p === from || p.startsWith(from + '/')) {
          if (normalizePath(to + p.slice(from.length)) === q) return true;
        }
      }
      return false;
    });
    if (hits.length) return pick(hits, 'path-map');
  }
  // 3. The source's path under the tree root is the tail of the unit's path (the tree
  //    was built elsewhere, or under a build prefix such as Debian's).
  if (rel) {
    hits = same.filter((h) => isTailOf(rel!, h.path));
    if (one(hits)) return pick(hits, 'tail');
  }
  // 4. An object in this source's own place with one unit of its file name.
  if (place === 'placed' && new Set(same.map((h) => h.path)).size === 1) return pick(same, 'file-name');
  // Nothing: the unit whose path shares the longest tail with the file, for the message.
  // In an object of many files (vmlinux, a module) a unit that shares only the file
  // name, or anything under a known tree root, is another file of the tree
  // (arch/alpha/kernel/time.c is not arch/x86/kernel/time.c): nothing to say.
  const best = same
    .map((h) => ({ h, n: sharedTail(h.path, q) }))
    .sort((a, b) => b.n - a.n)[0]!;
  if (place === 'many' && (rel !== undefined || best.n < 2)) return {};
  return { nearest: best.h.path };
}

/** The substitution that would turn `unitPath` into `source`: their differing heads. */
export function suggestMapping(unitPath: string, source: string): PathMapping | undefined {
  const a = normalizePath(unitPath).split('/');
  const b = normalizePath(toPosix(source)).split('/');
  let n = 0;
  while (n < a.length - 1 && n < b.length - 1 && a[a.length - 1 - n] === b[b.length - 1 - n]) n++;
  if (n === 0) return undefined;
  const from = a.slice(0, a.length - n).join('/') || '/';
  const to = b.slice(0, b.length - n).join('/') || '/';
  return from === to ? undefined : { from, to };
}

/** Images larger than this are read section by section (see readSparse). */
const SPARSE_READ_BYTES = 64 << 20;

/**
 * A linked image (vmlinux: 600 MB, of which .rela.debug_info alone is 260 MB) read
 * with only what the audit uses: the headers, code, symbols and the debug sections
 * other than relocations, location lists and frame tables. Everything else stays
 * zero pages in a buffer of the file's size, so offsets are unchanged and memory
 * is what was read. undefined for anything but a plain little-endian ELF64
 * executable, which is then read whole. With `infoFromFile`, an uncompressed
 * .debug_info is left unread too: the caller reads it from the file unit by unit
 * (openBinary's infoFrom, under the same rule: DwarfReader.fromElf).
 */
export function readSparse(path: string, size: number, alloc: (size: number) => Buffer = (n) => Buffer.alloc(n), opts: { infoFromFile?: boolean } = {}): Buffer | undefined {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(64);
    if (readSync(fd, head, 0, 64, 0) !== 64) return undefined;
    if (head.readUInt32BE(0) !== 0x7f454c46 || head[4] !== 2 || head[5] !== 1) return undefined;
    const type = head.readUInt16LE(16);
    if (type !== 2 && type !== 3) return undefined; // relocatable objects need their .rela sections
    const shoff = Number(head.readBigUInt64LE(0x28));
    const shentsize = head.readUInt16LE(0x3a);
    const shnum = head.readUInt16LE(0x3c);
    const shstrndx = head.readUInt16LE(0x3e);
    if (shentsize !== 64 || shnum === 0 || shstrndx >= shnum || shoff + shnum * 64 > size) return undefined;
    // Zeroed by calloc/mmap: pages are committed only where a section is read into them.
    const buf = alloc(size);
    const fill = (off: number, len: number) => {
      if (off < 0 || len <= 0 || off + len > size) return;
      for (let done = 0; done < len; ) {
        const n = readSync(fd, buf, off + done, Math.min(len - done, 64 << 20), off + done);
        if (n <= 0) throw new Error(`${path}: short read`);
        done += n;
      }
    };
    fill(0, 64);
    fill(shoff, shnum * 64);
    const sh = (i: number) => {
      const o = shoff + i * 64;
      return {
        name: buf.readUInt32LE(o), type: buf.readUInt32LE(o + 4), flags: Number(buf.readBigUInt64LE(o + 8)),
        offset: Number(buf.readBigUInt64LE(o + 24)), size: Number(buf.readBigUInt64LE(o + 32)),
      };
    };
    const strs = sh(shstrndx);
    fill(strs.offset, strs.size);
    const nameOf = (off: number) => {
      let e = strs.offset + off;
      while (e < strs.offset + strs.size && buf[e] !== 0) e++;
      return buf.toString('latin1', strs.offset + off, e);
    };
    const SHT_NOBITS = 8;
    const SHF_ALLOC = 2;
    const SHF_EXECINSTR = 4;
    const SHF_COMPRESSED = 0x800;
    for (let i = 1; i < shnum; i++) {
      const s = sh(i);
      if (s.type === SHT_NOBITS || s.size === 0) continue;
      const name = nameOf(s.name);
      if (opts.infoFromFile && name === '.debug_info' && (s.flags & SHF_COMPRESSED) === 0) continue;
      const wanted =
        (s.flags & SHF_EXECINSTR) !== 0 ||
        s.type === 2 /* SYMTAB */ || s.type === 3 /* STRTAB */ || s.type === 18 /* SYMTAB_SHNDX */ ||
        ((s.flags & SHF_ALLOC) === 0 && /^\.(z?debug_(?!loc|frame)|symtab|strtab)/.test(name));
      if (wanted) fill(s.offset, s.size);
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

/**
 * A linked image read as load() reads it (readSparse), into memory threads share
 * (ObjectStore.shareImage); undefined when it is not a large plain ELF64 image
 * (each thread then reads it as before) or cannot be read. With `infoFromFile`,
 * .debug_info is not read: each thread reads the units it needs from the file.
 */
export function readSharedImage(path: string, opts: { infoFromFile?: boolean } = {}): SharedImage | undefined {
  try {
    const st = statSync(path);
    if (!st.isFile() || st.size <= SPARSE_READ_BYTES || st.size > MAX_IMAGE_BYTES) return undefined;
    let bytes: SharedArrayBuffer | undefined;
    const buf = readSparse(path, st.size, (n) => Buffer.from((bytes = new SharedArrayBuffer(n))), opts);
    if (!buf || !bytes) return undefined;
    return { path, mtimeMs: st.mtimeMs, size: st.size, bytes, ...(opts.infoFromFile ? { infoFromFile: true } : {}) };
  } catch {
    return undefined;
  }
}

/** Modules of an indexed folder by their folder (relative, without a leading kernel/), per index. */
const modulesByDir = new WeakMap<Map<string, string[]>, Map<string, string[]>>();

/**
 * The modules of an objects folder that may hold `source`: those whose folder
 * (relative to the objects folder, without a leading kernel/ as in
 * /lib/modules/<version>/kernel) is the source's folder or one above it in the
 * tree (a composite module such as e1000e.ko sits above some of its sources),
 * nearest first. Modules at the top of the folder come last, as candidates for
 * any source. A tree of 4,000 modules is not opened whole for every source, nor
 * walked: the folders are looked up.
 */
function modulesFor(dir: string, idx: Map<string, string[]>, source: string): string[] {
  let byDir = modulesByDir.get(idx);
  if (!byDir) {
    byDir = new Map();
    for (const list of idx.values()) {
      for (const k of list) {
        if (!k.endsWith('.ko')) continue;
        let rel = toPosix(relative(dir, dirname(k)));
        if (rel === '.' || rel === 'kernel') rel = '';
        else if (rel.startsWith('kernel/')) rel = rel.slice(7);
        const l = byDir.get(rel) ?? [];
        l.push(k);
        byDir.set(rel, l);
      }
    }
    for (const l of byDir.values()) l.sort();
    modulesByDir.set(idx, byDir);
  }
  // Every run of consecutive folders of the source's path, longest first: the tree root is not known here.
  const parts = toPosix(dirname(source)).split('/').filter(Boolean);
  const out: string[] = [];
  const seen = new Set<string>();
  for (let len = parts.length; len >= 1; len--) {
    for (let i = 0; i + len <= parts.length; i++) {
      const rel = parts.slice(i, i + len).join('/');
      if (seen.has(rel)) continue;
      seen.add(rel);
      for (const k of byDir.get(rel) ?? []) out.push(k);
    }
  }
  for (const k of byDir.get('') ?? []) out.push(k);
  return out;
}

function sharedTail(a: string, b: string): number {
  const x = a.split(/[\\/]/).reverse();
  const y = b.split(/[\\/]/).reverse();
  let n = 0;
  while (n < x.length && n < y.length && x[n] === y[n]) n++;
  return n;
}

function dedupe<T extends { path: string }>(xs: T[]): T[] {
  const seen = new Set<string>();
  return xs.filter((x) => (seen.has(x.path) ? false : (seen.add(x.path), true)));
}
