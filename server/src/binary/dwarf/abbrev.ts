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

export type AbbrevTable = Map<number, Abbrev>;

/**
 * Parses the table at `offset`. It ends at a zero code (or the section end,
 * which readelf also accepts); each loop iteration consumes bytes, so it ends.
 */
export function parseAbbrevTable(data: Uint8Array, offset: number): AbbrevTable {
  const fault = faultIn('.debug_abbrev');
  if (offset < 0 || offset >= data.length) throw new DwarfError('.debug_abbrev', offset, 'abbreviation table offset outside section');
  const r = new ByteReader(data, fault, offset);
  const table: AbbrevTable = new Map();
  while (!r.atEnd()) {
    const at = r.pos;
    const code = r.uleb();
    if (code === 0) break;
    const tag = r.uleb();
    const children = r.u8();
    if (children > 1) throw new DwarfError('.debug_abbrev', at, `bad DW_CHILDREN value ${children}`);
    const specs: AttrSpec[] = [];
    for (;;) {
      const name = r.uleb();
      const form = r.uleb();
      if (name === 0 && form === 0) break;
      if (name === 0 || form === 0) throw new DwarfError('.debug_abbrev', r.pos, 'zero attribute name or form');
      const spec: AttrSpec = { name, form };
      if (form === DW_FORM.implicit_const) spec.implicitConst = r.slebBig();
      specs.push(spec);
    }
    if (!table.has(code)) table.set(code, { code, tag, hasChildren: children === 1, specs });
  }
  return table;
}
