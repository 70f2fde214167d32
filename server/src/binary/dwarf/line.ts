/**
 * .debug_line: DWARF 2-5 line program headers (incl. the v5 entry-format
 * directory/file tables) and the line-number state machine. Rows come out in
 * program order with the same meaning as `readelf --debug-dump=decodedline`:
 * one row per DW_LNS_copy, special opcode and DW_LNE_end_sequence.
 */
import { DwarfError } from '../errors';
import { ByteReader } from '../reader';
import { DW_FORM, DW_LNCT, DW_LNE, DW_LNS } from './constants';
import { AttrValue, readAttrValue } from './forms';
import { DwarfSections, sectionReader } from './sections';

export interface LineFileEntry {
  name: string;
  dirIndex: number;
  md5?: Uint8Array;
}

export interface LineProgramHeader {
  /** Offset of the header in .debug_line. */
  offset: number;
  /** Exclusive end of this line program. */
  end: number;
  version: number;
  addressSize: number;
  offsetSize: number;
  minInstLength: number;
  maxOpsPerInst: number;
  defaultIsStmt: boolean;
  lineBase: number;
  lineRange: number;
  opcodeBase: number;
  standardOpcodeLengths: number[];
  /** v5: all directories (index 0 = compilation directory). v2-4: include_directories (1-based in the program). */
  includeDirs: string[];
  /** v5: 0-based; v2-4: 1-based in the program (files[0] is file 1). */
  files: LineFileEntry[];
  /** Offset of the first opcode. */
  programOffset: number;
}

export interface LineRow {
  address: bigint;
  opIndex: number;
  /** File register as the program set it. */
  fileIndex: number;
  /** Full path (directory joined, relative ones under comp_dir); '' when the index is invalid. */
  file: string;
  line: number;
  column: number;
  isStmt: boolean;
  basicBlock: boolean;
  endSequence: boolean;
  prologueEnd: boolean;
  epilogueBegin: boolean;
  isa: number;
  discriminator: number;
}

/** Resolves string forms other than string/line_strp/strp (strx needs the unit). */
export type StringResolver = (v: AttrValue, section: string, offset: number) => string;

export function isAbsolutePath(p: string): boolean {
  return p.startsWith('/');
}

export function joinPath(dir: string, name: string): string {
  if (!dir || isAbsolutePath(name)) return name;
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

export function readLineProgramHeader(
  sections: DwarfSections,
  offset: number,
  unitAddressSize: number,
  resolve: StringResolver,
): LineProgramHeader {
  const r0 = sectionReader(sections, '.debug_line', offset);
  let length = r0.u32();
  let offsetSize = 4;
  if (length === 0xffffffff) {
    offsetSize = 8;
    length = r0.u64n('unit_length');
  } else if (length >= 0xfffffff0) {
    throw new DwarfError('.debug_line', offset, `reserved unit_length 0x${length.toString(16)}`);
  }
  const end = r0.pos + length;
  if (end > r0.end) throw new DwarfError('.debug_line', offset, `line program length 0x${length.toString(16)} runs past section end`);
  const r = sectionReader(sections, '.debug_line', r0.pos, end);
  const version = r.u16();
  if (version < 2 || version > 5) throw new DwarfError('.debug_line', offset, `unsupported line table version ${version}`);
  let addressSize = unitAddressSize;
  if (version >= 5) {
    addressSize = r.u8();
    const segSel = r.u8();
    if (addressSize !== 4 && addressSize !== 8) throw new DwarfError('.debug_line', offset, `bad address size ${addressSize}`);
    if (segSel !== 0) throw new DwarfError('.debug_line', offset, 'segment selectors are not supported');
  }
  const headerLength = r.offset(offsetSize, 'header_length');
  const programOffset = r.pos + headerLength;
  if (programOffset > end) throw new DwarfError('.debug_line', offset, 'header_length runs past the line program');
  const minInstLength = r.u8();
  const maxOpsPerInst = version >= 4 ? r.u8() : 1;
  if (maxOpsPerInst === 0) throw new DwarfError('.debug_line', offset, 'maximum_operations_per_instruction is 0');
  const defaultIsStmt = r.u8() !== 0;
  const lineBase = r.i8();
  const lineRange = r.u8();
  if (lineRange === 0) throw new DwarfError('.debug_line', offset, 'line_range is 0');
  const opcodeBase = r.u8();
  if (opcodeBase === 0) throw new DwarfError('.debug_line', offset, 'opcode_base is 0');
  const standardOpcodeLengths: number[] = [];
  for (let i = 1; i < opcodeBase; i++) standardOpcodeLengths.push(r.u8());

  const includeDirs: string[] = [];
  const files: LineFileEntry[] = [];
  const hdr = new ByteReader(r.data, r.fault, r.pos, programOffset);
  if (version >= 5) {
    const ctx = { version, addressSize, offsetSize, unitOffset: 0 };
    const readEntries = (onEntry: (vals: Map<number, { v: AttrValue; at: number }>) => void): void => {
      const formatCount = hdr.u8();
      const formats: Array<[number, number]> = [];
      for (let i = 0; i < formatCount; i++) formats.push([hdr.uleb(), hdr.uleb()]);
      const count = hdr.uleb();
      // Every entry with a non-empty format consumes bytes; guard the empty-format case.
      if (formats.length === 0 && count > 0) throw new DwarfError('.debug_line', hdr.pos, 'entries without a format');
      for (let i = 0; i < count; i++) {
        const vals = new Map<number, { v: AttrValue; at: number }>();
        for (const [ct, form] of formats) {
          const at = hdr.pos;
          vals.set(ct, { v: readAttrValue(hdr, form, ctx), at });
        }
        onEntry(vals);
      }
    };
    const str = (e: { v: AttrValue; at: number } | undefined): string => (e ? resolve(e.v, '.debug_line', e.at) : '');
    const num = (e: { v: AttrValue; at: number } | undefined): number => {
      if (!e) return 0;
      if (e.v.kind === 'udata' || e.v.kind === 'sdata') {
        if (e.v.value < 0n || e.v.value > BigInt(Number.MAX_SAFE_INTEGER)) throw new DwarfError('.debug_line', e.at, 'directory index out of range');
        return Number(e.v.value);
      }
      throw new DwarfError('.debug_line', e.at, 'directory index is not a constant');
    };
    readEntries((vals) => includeDirs.push(str(vals.get(DW_LNCT.path))));
    readEntries((vals) => {
      const f: LineFileEntry = { name: str(vals.get(DW_LNCT.path)), dirIndex: num(vals.get(DW_LNCT.directory_index)) };
      const md5 = vals.get(DW_LNCT.MD5);
      if (md5 && md5.v.kind === 'block') f.md5 = md5.v.value;
      files.push(f);
    });
  } else {
    // include_directories and file_names, each ended by an empty string.
    for (;;) {
      const d = hdr.cstring();
      if (d === '') break;
      includeDirs.push(d);
    }
    for (;;) {
      const name = hdr.cstring();
      if (name === '') break;
      const dirIndex = hdr.uleb();
      hdr.uleb(); // mtime
      hdr.uleb(); // length
      files.push({ name, dirIndex });
    }
  }
  return {
    offset, end, version, addressSize, offsetSize, minInstLength, maxOpsPerInst, defaultIsStmt,
    lineBase, lineRange, opcodeBase, standardOpcodeLengths, includeDirs, files, programOffset,
  };
}

/**
 * Full path of a file register value, the way binutils builds it: an
 * absolute name as is; else the entry's directory (relative directories and
 * DWARF 2-4 directory 0 under comp_dir) joined with the name.
 */
export function lineFilePath(h: LineProgramHeader, fileIndex: number, compDir: string | undefined): string | undefined {
  const f = h.version >= 5 ? h.files[fileIndex] : h.files[fileIndex - 1];
  if (!f) return undefined;
  if (isAbsolutePath(f.name)) return f.name;
  let dir: string | undefined;
  if (h.version >= 5) dir = h.includeDirs[f.dirIndex];
  else dir = f.dirIndex === 0 ? compDir : h.includeDirs[f.dirIndex - 1];
  if (dir === undefined) dir = '';
  if (!isAbsolutePath(dir) && compDir && dir !== compDir) dir = joinPath(compDir, dir);
  return joinPath(dir, f.name);
}

/** Runs the line program; every opcode consumes bytes of [programOffset, end). */
export function runLineProgram(sections: DwarfSections, h: LineProgramHeader, compDir: string | undefined): LineRow[] {
  const r = sectionReader(sections, '.debug_line', h.programOffset, h.end);
  const rows: LineRow[] = [];
  const files = h.files.slice();
  const hh: LineProgramHeader = { ...h, files };
  const pathCache = new Map<number, string>();
  const pathOf = (i: number): string => {
    let p = pathCache.get(i);
    if (p === undefined) {
      p = lineFilePath(hh, i, compDir) ?? '';
      pathCache.set(i, p);
    }
    return p;
  };
  const minInst = BigInt(h.minInstLength);
  let address = 0n;
  let opIndex = 0;
  let file = 1;
  let line = 1;
  let column = 0;
  let isStmt = h.defaultIsStmt;
  let basicBlock = false;
  let endSequence = false;
  let prologueEnd = false;
  let epilogueBegin = false;
  let isa = 0;
  let discriminator = 0;
  const reset = () => {
    address = 0n; opIndex = 0; file = 1; line = 1; column = 0; isStmt = h.defaultIsStmt;
    basicBlock = false; endSequence = false; prologueEnd = false; epilogueBegin = false; isa = 0; discriminator = 0;
  };
  const emit = () => {
    rows.push({
      address, opIndex, fileIndex: file, file: pathOf(file), line, column, isStmt, basicBlock,
      endSequence, prologueEnd, epilogueBegin, isa, discriminator,
    });
    basicBlock = false; prologueEnd = false; epilogueBegin = false; discriminator = 0;
  };
  const advance = (opAdvance: number) => {
    if (h.maxOpsPerInst === 1) {
      address = BigInt.asUintN(64, address + minInst * BigInt(opAdvance));
    } else {
      const t = opIndex + opAdvance;
      address = BigInt.asUintN(64, address + minInst * BigInt(Math.floor(t / h.maxOpsPerInst)));
      opIndex = t % h.maxOpsPerInst;
    }
  };
  while (r.pos < h.end) {
    const at = r.pos;
    const op = r.u8();
    if (op >= h.opcodeBase) {
      const adj = op - h.opcodeBase;
      advance(Math.floor(adj / h.lineRange));
      line += h.lineBase + (adj % h.lineRange);
      emit();
      continue;
    }
    if (op === 0) {
      const len = r.uleb();
      if (len === 0) throw new DwarfError('.debug_line', at, 'extended opcode of length 0');
      const next = r.pos + len;
      if (next > h.end) throw new DwarfError('.debug_line', at, 'extended opcode runs past the line program');
      const sub = r.u8();
      switch (sub) {
        case DW_LNE.end_sequence:
          endSequence = true;
          emit();
          reset();
          break;
        case DW_LNE.set_address: {
          const size = len - 1;
          if (size !== 1 && size !== 2 && size !== 4 && size !== 8) {
            throw new DwarfError('.debug_line', at, `DW_LNE_set_address with ${size}-byte operand`);
          }
          address = r.uintBig(size);
          opIndex = 0;
          break;
        }
        case DW_LNE.define_file: {
          const name = r.cstring();
          const dirIndex = r.uleb();
          r.uleb();
          r.uleb();
          files.push({ name, dirIndex });
          break;
        }
        case DW_LNE.set_discriminator:
          discriminator = r.uleb();
          break;
        default:
          break; // unknown extended opcodes are skipped by their length
      }
      if (r.pos > next) throw new DwarfError('.debug_line', at, 'extended opcode longer than its length');
      r.seek(next);
      continue;
    }
    switch (op) {
      case DW_LNS.copy:
        emit();
        break;
      case DW_LNS.advance_pc:
        advance(r.uleb());
        break;
      case DW_LNS.advance_line:
        line += r.sleb();
        break;
      case DW_LNS.set_file:
        file = r.uleb();
        break;
      case DW_LNS.set_column:
        column = r.uleb();
        break;
      case DW_LNS.negate_stmt:
        isStmt = !isStmt;
        break;
      case DW_LNS.set_basic_block:
        basicBlock = true;
        break;
      case DW_LNS.const_add_pc:
        advance(Math.floor((255 - h.opcodeBase) / h.lineRange));
        break;
      case DW_LNS.fixed_advance_pc:
        address = BigInt.asUintN(64, address + BigInt(r.u16()));
        opIndex = 0;
        break;
      case DW_LNS.set_prologue_end:
        prologueEnd = true;
        break;
      case DW_LNS.set_epilogue_begin:
        epilogueBegin = true;
        break;
      case DW_LNS.set_isa:
        isa = r.uleb();
        break;
      default: {
        // Unknown standard opcode: skip the number of ULEB operands the header declares.
        const n = h.standardOpcodeLengths[op - 1] ?? 0;
        for (let i = 0; i < n; i++) r.uleb();
      }
    }
  }
  return rows;
}

/** Forms a v5 entry-format string may use, for callers building a resolver. */
export const LINE_STRING_FORMS: readonly number[] = [
  DW_FORM.string, DW_FORM.line_strp, DW_FORM.strp, DW_FORM.strx, DW_FORM.strx1, DW_FORM.strx2, DW_FORM.strx3, DW_FORM.strx4,
];
