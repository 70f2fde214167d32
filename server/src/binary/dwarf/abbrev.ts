/** .debug_abbrev: abbreviation tables, parsed once per table offset by the caller's cache. */
import { DwarfError } from '../errors';
import { ByteReader } from '../reader';
import { DW_FORM } from './constants';
import { faultIn } from './sections';

export interface AttrSpec {
  name: number;
  form: number;
  /** Value of a DW_FORM_implicit_const attribute, stored in the abbreviation itself. */
  implicitConst?: bigint;
}

export interface Abbrev {
  code: number;
  tag: number;
  hasChildren: boolean;
  specs: AttrSpec[];
}

/** An abbreviation table: the entry of a code, undefined when the table has none. */
export interface AbbrevTable {
  get(code: number): Abbrev | undefined;
}

/**
 * A table read only as far as the codes asked for: a unit whose root DIE alone is
 * read (its name, its line table: every unit of a vmlinux) needs the first entry,
 * not the hundreds after it. Entries are read in order and kept; a code not yet
 * seen reads on until it is found or the table ends. A malformed entry throws when
 * it is reached, with its offset, as an eager parse would.
 */
class LazyAbbrevTable implements AbbrevTable {
  private readonly entries = new Map<number, Abbrev>();
  /** Where each code seen so far starts (its specs are read when it is asked for). */
  private readonly at = new Map<number, number>();
  private readonly r: ByteReader;
  private done = false;

  constructor(data: Uint8Array, offset: number) {
    this.r = new ByteReader(data, faultIn('.debug_abbrev'), offset);
  }

  get(code: number): Abbrev | undefined {
    const hit = this.entries.get(code);
    if (hit) return hit;
    let pos = this.at.get(code);
    // GCC puts the unit DIE's entry anywhere in the table: codes are stepped over,
    // not built, until the one asked for.
    while (pos === undefined && !this.done) {
      const c = this.skipEntry();
      if (c === code) pos = this.at.get(code);
    }
    if (pos === undefined) return undefined;
    const a = this.readEntry(pos);
    this.entries.set(code, a);
    return a;
  }

  /** Steps over the next entry, noting where its code starts; returns the code (undefined at the end). */
  private skipEntry(): number | undefined {
    const r = this.r;
    if (r.atEnd()) {
      this.done = true;
      return undefined;
    }
    const start = r.pos;
    const code = r.uleb();
    if (code === 0) {
      this.done = true;
      return undefined;
    }
    r.uleb();
    const children = r.u8();
    if (children > 1) throw new DwarfError('.debug_abbrev', start, `bad DW_CHILDREN value ${children}`);
    for (;;) {
      const name = r.uleb();
      const form = r.uleb();
      if (name === 0 && form === 0) break;
      if (name === 0 || form === 0) throw new DwarfError('.debug_abbrev', r.pos, 'zero attribute name or form');
      if (form === DW_FORM.implicit_const) r.slebBig();
    }
    // The first entry with a code wins.
    if (!this.at.has(code)) this.at.set(code, start);
    return code;
  }

  private readEntry(start: number): Abbrev {
    const r = new ByteReader(this.r.data, this.r.fault, start, this.r.end);
    const code = r.uleb();
    const tag = r.uleb();
    const children = r.u8();
    const specs: AttrSpec[] = [];
    for (;;) {
      const name = r.uleb();
      const form = r.uleb();
      if (name === 0 && form === 0) break;
      const spec: AttrSpec = { name, form };
      if (form === DW_FORM.implicit_const) spec.implicitConst = r.slebBig();
      specs.push(spec);
    }
    return { code, tag, hasChildren: children === 1, specs };
  }
}

/**
 * The table at `offset`. It ends at a zero code (or the section end, which
 * readelf also accepts); entries are read as codes are asked for (LazyAbbrevTable).
 */
export function parseAbbrevTable(data: Uint8Array, offset: number): AbbrevTable {
  if (offset < 0 || offset >= data.length) throw new DwarfError('.debug_abbrev', offset, 'abbreviation table offset outside section');
  return new LazyAbbrevTable(data, offset);
}
