// The rewrite's copy of a text's code units (c/textUnits.ts): overwritten with ASCII and
// read back, it must give the text with exactly those units changed, whatever the text
// held (non-ASCII, lone surrogates) and whatever longer text the kept array held before.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TextUnits } from '../../../server/src/c/textUnits';
import { xorshift32 } from '../../fuzz/prng';

/** A deterministic generator, so a failure is reproducible. */
const rng = xorshift32;

test('a copy overwritten and read back is the text with those units changed', () => {
  const r = rng(5);
  const pieces = ['a', 'int x;', ' ', '\n', '\r\n', '\t', '~', '\u007f', 'é', '\u00ff', '\u0100', '€', '😀', '\ud800', '\udc00', '\0'];
  // keep = 64: texts over it get arrays of their own, the rest share two kept arrays.
  const units = new TextUnits(64);
  for (let k = 0; k < 3000; k++) {
    let text = '';
    for (let m = Math.floor(r() * 120); m > 0; m--) text += pieces[Math.floor(r() * pieces.length)];
    const u = units.copy(text);
    assert.ok(u.length >= text.length);
    const want = text.split('');
    const split = [...Array(text.length).keys()];
    for (let m = Math.floor(r() * 5); m > 0 && text.length; m--) {
      const at = split[Math.floor(r() * split.length)]!;
      const ch = ' 0,;_"'[Math.floor(r() * 6)]!;
      u[at] = ch.charCodeAt(0);
      want[at] = ch;
    }
    const got = units.read(u, text.length);
    assert.equal(got, want.join(''), JSON.stringify(text));
    assert.equal(got.length, text.length);
  }
});

test('an ASCII text is copied one byte per unit, any other two', () => {
  const units = new TextUnits();
  assert.equal(units.copy('int x;').BYTES_PER_ELEMENT, 1);
  assert.equal(units.copy('é').BYTES_PER_ELEMENT, 2);
  assert.equal(units.copy('x\ud800').BYTES_PER_ELEMENT, 2);
  // A shorter text after a longer one: only its own units are read back.
  const long = units.copy('a'.repeat(100));
  long[0] = 32;
  const short = units.copy('bcd');
  assert.equal(units.read(short, 3), 'bcd');
});
