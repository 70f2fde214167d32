// Finding and opening the object that holds a source file's code: the .o beside
// it (in-tree build), the same relative path under a build directory (O=
// builds), a .ko or any object under an explicit objects folder, or vmlinux.
// Opened objects are cached by path + mtime + size, so an edit loop reuses one
// parse and a rebuild is picked up at once.

import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { checkRegular, SafeReadError, safeReadBytes, safeReadHead } from '../fs/safeRead';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { openBinary, ElfError, DwarfError, type BinaryObject, type DwarfUnit } from '../binary/index';
import { ObjectCode } from './code';
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
}

export interface OpenedObject {
  path: string;
  mtimeMs: number;
  size: number;
  bin: BinaryObject;
  code: ObjectCode;
}

export interface ObjectChoice {
  object: OpenedObject | undefined;
  units: DwarfUnit[];
  info: ObjectInfo;
}

/** Objects bigger than this are only opened when named as vmlinux (they are read whole). */
const MAX_OBJECT_BYTES = 64 << 20;
const MAX_IMAGE_BYTES = 2047 << 20;
/** Cap on files visited when indexing an --objects folder. */
const MAX_INDEXED_FILES = 200_000;

function errorText(e: unknown): string {
  if (e instanceof ElfError || e instanceof DwarfError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export class ObjectStore {
  private readonly open = new Map<string, OpenedObject>();
  private readonly failures = new Map<string, { mtimeMs: number; size: number; message: string }>();
  private readonly folderIndex = new Map<string, Map<string, string[]>>();
  /** Objects compiled on demand (compile.ts), by absolute source path: tried first. */
  readonly compiled = new Map<string, string>();
  /** Most recently used last; images are large, so only a few stay open. */
  private readonly maxOpen: number;

  constructor(maxOpen = 16) {
    this.maxOpen = maxOpen;
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
      const data = st.size > SPARSE_READ_BYTES ? readSparse(path, st.size) ?? safeReadBytes(path, { maxBytes: Number.MAX_SAFE_INTEGER }) : safeReadBytes(path, { maxBytes: Number.MAX_SAFE_INTEGER });
      const bin = openBinary(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      if (bin.elf.machine !== 62) throw new Error(`${path}: not an x86-64 object (e_machine ${bin.elf.machine})`);
      if (!bin.dwarf.hasDebugInfo) {
        const stripped = !bin.elf.sectionByName('.symtab');
        throw new Error(stripped
          ? `${path}: is stripped (no symbols, no DWARF); use the unstripped object or a -dbg package's vmlinux`
          : `${path}: has no DWARF (.debug_info); build with debug info (-g, CONFIG_DEBUG_INFO)`);
      }
      const o: OpenedObject = { path, mtimeMs: st.mtimeMs, size: st.size, bin, code: new ObjectCode(bin) };
      this.open.set(path, o);
      while (this.open.size > this.maxOpen) {
        const oldest = this.open.keys().next().value as string;
        this.open.delete(oldest);
      }
      this.failures.delete(path);
      return o;
    } catch (e) {
      const message = errorText(e).startsWith(path) ? errorText(e) : `${path}: ${errorText(e)}`;
      this.failures.set(path, { mtimeMs: st.mtimeMs, size: st.size, message });
      return { error: message };
    }
  }

  forget(path: string): void {
    this.open.delete(path);
    this.failures.delete(path);
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
  candidates(source: string, search: ObjectSearch): { path: string; origin: NonNullable<ObjectInfo['origin']>; image?: boolean }[] {
    const out: { path: string; origin: NonNullable<ObjectInfo['origin']>; image?: boolean }[] = [];
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
      if (st.isFile()) out.push({ path: p, origin: 'explicit' });
      else if (st.isDirectory()) {
        const idx = this.indexFolder(p);
        const byName = idx.get(stem + '.o') ?? [];
        // Prefer the object whose relative path matches the source's tail.
        const ranked = byName
          .map((c) => ({ c, score: sharedTail(c.replace(/\.o$/, ''), src.replace(/\.[^.]+$/, '')) }))
          .sort((a, b) => b.score - a.score);
        for (const r of ranked) out.push({ path: r.c, origin: 'explicit' });
        for (const list of idx.values()) for (const k of list) if (k.endsWith('.ko')) out.push({ path: k, origin: 'module' });
      }
    }
    if (search.vmlinux) out.push({ path: resolve(search.vmlinux), origin: 'vmlinux', image: true });
    return dedupe(out);
  }

  /**
   * The first candidate that opens and has a compile unit for `source`.
   * The ObjectInfo says what was found and why others were not used.
   */
  find(source: string, search: ObjectSearch): ObjectChoice {
    const tried: string[] = [];
    let broken = false;
    let sourceMtimeMs: number | undefined;
    try {
      sourceMtimeMs = statSync(source).mtimeMs;
    } catch {
      sourceMtimeMs = undefined;
    }
    for (const c of this.candidates(source, search)) {
      const r = this.load(c.path, c.image);
      if ('error' in r) {
        if (!/no such file/.test(r.error)) {
          tried.push(r.error);
          broken = true;
        }
        continue;
      }
      const units = r.bin.dwarf.unitsForSource(source);
      if (units.length === 0) {
        if (c.origin !== 'module') tried.push(`${c.path}: no compile unit for ${basename(source)}`);
        continue;
      }
      const producer = units[0]!.producer;
      return {
        object: r,
        units,
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
    const message = tried.length
      ? `no usable object for ${basename(source)}: ${tried.slice(0, 3).join('; ')}`
      : `no object found for ${basename(source)} (looked for ${basename(source).replace(/\.[^.]+$/, '.o')} beside it${search.buildDir ? ', under the build directory' : ''}${search.objects?.length ? ', under the objects given' : ''}${search.vmlinux ? ', in vmlinux' : ''})`;
    // An object that opened but holds no unit for the file is not broken: the file is just not in it.
    return { object: undefined, units: [], info: { path: undefined, state: broken ? 'unusable' : 'missing', message, sourceMtimeMs } };
  }
}

/** Images larger than this are read section by section (see readSparse). */
const SPARSE_READ_BYTES = 64 << 20;

/**
 * A linked image (vmlinux: 600 MB, of which .rela.debug_info alone is 260 MB) read
 * with only what the audit uses: the headers, code, symbols and the debug sections
 * other than relocations, location lists and frame tables. Everything else stays
 * zero pages in a buffer of the file's size, so offsets are unchanged and memory
 * is what was read. undefined for anything but a plain little-endian ELF64
 * executable, which is then read whole.
 */
export function readSparse(path: string, size: number): Buffer | undefined {
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
    const buf = Buffer.alloc(size);
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
    for (let i = 1; i < shnum; i++) {
      const s = sh(i);
      if (s.type === SHT_NOBITS || s.size === 0) continue;
      const name = nameOf(s.name);
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
