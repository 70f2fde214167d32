// Whole-image inventory: every inlined accessor instance in a kernel image's
// DWARF and the instruction(s) inside it, with the function that holds each
// and its verdict, without any source. Units are read one at a time and
// released whole (DwarfUnit.releaseAll), so vmlinux's 170 MB of .debug_info is
// never all decoded at once; of each unit only the scope DIEs are built
// (DwarfUnit.codeTree: subprograms, inlined subroutines, blocks), and only the
// inlined instances of catalogued accessors are described.

import { inlineAccessorFor } from '../c/catalogue';
import type { DwarfUnit } from '../binary/index';
import { lineFilePath } from '../binary/dwarf/line';
import { profileData, type Profile } from '../x86/profiles';
import type { CompiledInstruction } from './compiled';
import { describe, markUnrolled, performedIn, STRING_INSN } from './compiled/describe';
import { functionView } from './compiled/match';
import type { OpenedObject } from './objects';

export interface InventoryItem extends CompiledInstruction {
  /** The accessor whose inlined instance holds the instruction (or the string helper). */
  accessor: string;
  /** Where the accessor was called (call_file/call_line/call_column of the instance). */
  site: { file: string | undefined; line: number; column: number };
}

export interface Inventory {
  object: string;
  profile: Profile;
  units: { total: number; scanned: number };
  items: InventoryItem[];
  functions: ReturnType<typeof functionView>;
  /** Instances whose range held no matching instruction (optimised out, or a code path we do not model). */
  emptyInstances: number;
  ms: number;
}

/** Headers that define inlined accessors; a unit whose line table names none of them has no instance. */
const ACCESSOR_HEADERS = /(?:asm\/io\.h|asm\/shared\/io\.h|asm-generic\/io\.h|asm\/pci_x86\.h|io-64-nonatomic-(?:lo-hi|hi-lo)\.h|asm\/msr\.h)$/;
/** The file names ACCESSOR_HEADERS can end with: only a line-table entry named so is joined to its directory. */
const ACCESSOR_HEADER_NAMES = /(?:(?:^|\/)(?:io|pci_x86|msr)\.h|io-64-nonatomic-(?:lo-hi|hi-lo)\.h)$/;

/**
 * Whether the unit's line table names a header that defines accessors: the
 * entries' own names are tested first, and only those that can match are joined
 * to their directory (a vmlinux has 2,352 tables of hundreds of headers each).
 */
export function namesAccessorHeader(cu: DwarfUnit): boolean {
  const h = cu.lineHeader();
  if (!h) return false;
  const first = h.version >= 5 ? 0 : 1;
  let compDir: string | undefined | null = null;
  for (let i = 0; i < h.files.length; i++) {
    if (!ACCESSOR_HEADER_NAMES.test(h.files[i]!.name)) continue;
    if (compDir === null) compDir = cu.compDir;
    const p = lineFilePath(h, i + first, compDir);
    if (p && ACCESSOR_HEADERS.test(p)) return true;
  }
  return false;
}

/** Out-of-line helpers whose own bodies hold string instructions on MMIO (arch/x86/lib/iomem.c). */
const STRING_HELPERS = new Set(['memcpy_fromio', 'memcpy_toio', 'memset_io', 'string_memcpy_fromio', 'string_memcpy_toio']);

/**
 * arch/x86/lib/iomap_copy_64.S: `rep movsl` with no confidential-computing check,
 * so under TDX it is reached and rejected.
 */
const ASM_STRING_HELPERS = ['__iowrite32_copy'];


/**
 * The accessor instructions of one unit (pushed to `items`, each instruction once
 * over the image through `seen`); returns the instances that held none.
 */
function unitItems(o: OpenedObject, cu: DwarfUnit, profile: Profile, includeMsr: boolean, seen: Set<string>, items: InventoryItem[]): number {
  const dwarf = o.bin.dwarf;
  let empty = 0;
  // As the profile's kernel builds each accessor (__iowrite32_copy: inline since 6.10).
  const kernel = profileData(profile).kernel;
  for (const inst of dwarf.inlinedInstances(cu, (n) => !!inlineAccessorFor(n, kernel))) {
    const acc = inlineAccessorFor(inst.name, kernel);
    if (!acc) continue;
    if (!includeMsr && (acc.kind === 'msr-read' || acc.kind === 'msr-write' || acc.kind === 'cpuid' || acc.kind === 'hlt')) continue;
    let hit = 0;
    for (const { insn, described } of performedIn(o, inst.ranges, { accessorKind: acc.kind, width: acc.width, name: inst.name! }, profile, 'inventory', { once: true })) {
      hit++;
      const key = `${insn.ip}:${inst.name}`;
      if (seen.has(key)) continue;
      seen.add(key);
      items.push({ ...described(), accessor: inst.name!, site: { file: inst.callFile, line: inst.callLine ?? 0, column: inst.callColumn ?? 0 } });
    }
    if (!hit) empty++;
  }
  // The string helpers' own `rep movs`/`rep stos` (the non-TDX branch).
  // Only arch/x86/lib/iomem.c defines them: skip the subprogram walk elsewhere.
  for (const fn of /(^|\/)iomem\.c$/.test(cu.name ?? '') ? dwarf.functions(cu) : []) {
    if (!fn.name || !STRING_HELPERS.has(fn.name)) continue;
    for (const r of fn.ranges) {
      for (const { fn: sym, insn } of o.code.instructionsInRange(r.lo, r.hi)) {
        if (!STRING_INSN.test(insn.text)) continue;
        const key = `${insn.ip}:${fn.name}`;
        if (seen.has(key)) continue;
        seen.add(key);
        const d = markUnrolled(describe(o, sym, insn, profile, 'inventory'), 'string-helper', profile);
        items.push({ ...d, accessor: fn.name, site: { file: d.file, line: d.line, column: d.column } });
      }
    }
  }
  return empty;
}

/** Options of a whole-image pass. */
export interface InventoryOptions {
  includeMsr?: boolean;
  onUnit?: (done: number, total: number) => void;
  cancelled?: () => boolean;
}

/**
 * What a pass over some of the units gives: each unit's items in the order a
 * pass over all of them pushes them (deduplicated within the units read here
 * only), the assembly helpers' items when asked for, and counts. Passes over
 * disjoint unit sets merge (mergeInventory) into exactly one pass's inventory.
 */
export interface InventoryPart {
  total: number;
  scanned: number;
  empty: number;
  units: { unit: number; items: InventoryItem[] }[];
  asm: InventoryItem[];
}

/** The pass over the units `mine` accepts (by index); `asm`: also the assembly string helpers. */
export function inventoryPart(o: OpenedObject, profile: Profile, mine: (unit: number) => boolean, asm: boolean, opts: InventoryOptions = {}): InventoryPart {
  const units = o.bin.dwarf.compileUnits();
  const seen = new Set<string>();
  const part: InventoryPart = { total: units.length, scanned: 0, empty: 0, units: [], asm: [] };
  units.forEach((cu: DwarfUnit, k) => {
    if (!mine(k) || opts.cancelled?.()) return;
    opts.onUnit?.(k, units.length);
    try {
      let named: boolean;
      try {
        named = namesAccessorHeader(cu);
      } catch {
        return;
      }
      if (!named) return;
      part.scanned++;
      const items: InventoryItem[] = [];
      part.empty += unitItems(o, cu, profile, opts.includeMsr ?? false, seen, items);
      if (items.length) part.units.push({ unit: k, items });
    } finally {
      // Nothing of a unit is needed once it is read: the root DIE and line header go
      // too (kept, 2,352 of them would hold more than the units being read).
      cu.releaseAll();
      o.code.release();
    }
  });
  // Assembly helpers have no DWARF subprogram: find them by symbol.
  for (const name of asm ? ASM_STRING_HELPERS : []) {
    const fn = o.code.byName(name);
    if (!fn) continue;
    for (const insn of o.code.instructions(fn)) {
      if (!STRING_INSN.test(insn.text)) continue;
      const d = describe(o, fn, insn, profile, 'inventory');
      part.asm.push({ ...d, accessor: name, site: { file: d.file, line: d.line, column: d.column } });
    }
  }
  return part;
}

/**
 * One inventory from passes over disjoint unit sets: units in their order, an
 * instruction kept at its first unit (as one pass's `seen` keeps it), then the
 * assembly helpers, sorted by address (a stable sort: ties stay in that order).
 */
export function mergeInventory(object: string, profile: Profile, parts: readonly InventoryPart[], ms: number): Inventory {
  const byUnit = parts.flatMap((p) => p.units).sort((a, b) => a.unit - b.unit);
  const seen = new Set<string>();
  const items: InventoryItem[] = [];
  for (const u of byUnit) {
    for (const i of u.items) {
      // The key one pass uses (`${ip}:${name}`), from what an item keeps of it.
      const key = `${i.address}:${i.accessor}`;
      if (seen.has(key)) continue;
      seen.add(key);
      items.push(i);
    }
  }
  for (const p of parts) items.push(...p.asm);
  items.sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  const sum = (f: (p: InventoryPart) => number) => parts.reduce((n, p) => n + f(p), 0);
  return {
    object, profile, units: { total: parts[0]?.total ?? 0, scanned: sum((p) => p.scanned) }, items,
    functions: functionView([{ instructions: items }]), emptyInstances: sum((p) => p.empty), ms,
  };
}

export function inventory(o: OpenedObject, profile: Profile, opts: InventoryOptions = {}): Inventory {
  const t0 = performance.now();
  const part = inventoryPart(o, profile, () => true, true, opts);
  return mergeInventory(o.path, profile, [part], performance.now() - t0);
}
