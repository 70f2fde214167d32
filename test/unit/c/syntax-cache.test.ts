// fieldChild and kindOf answer what tree-sitter answers, asking it once per node of
// a tree; another tree (a reparse, a macro body) has its own answers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CParser } from '../../../server/src/c/parser';
import { fieldChild, kindOf } from '../../../server/src/c/syntax';

test('fieldChild and kindOf give tree-sitter\'s answers, the same node object on a second ask, per tree', async () => {
  const parser = await CParser.create();
  const a = parser.parseOnce('void f(int *p) { p->x = 1; q = 2; }');
  const b = parser.parseOnce('void f(int *p) { q = 2; p->x = 1; }');
  try {
    const [a1, a2] = a.rootNode.descendantsOfType('assignment_expression');
    const [b1] = b.rootNode.descendantsOfType('assignment_expression');
    const left = fieldChild(a1!, 'left')!;
    assert.equal(left.id, a1!.childForFieldName('left')!.id);
    assert.equal(left.text, 'p->x');
    assert.equal(fieldChild(a1!, 'left'), left); // asked once
    assert.equal(kindOf(left), 'field_expression');
    assert.equal(kindOf(fieldChild(a2!, 'left')), 'identifier');
    assert.equal(fieldChild(left, 'value'), null); // no such field: null, remembered as such
    assert.equal(fieldChild(left, 'value'), null);
    assert.equal(fieldChild(null, 'left'), null);
    assert.equal(kindOf(undefined), undefined);
    // The other tree's first assignment is `q = 2`, whatever ids the two trees share.
    assert.equal(fieldChild(b1!, 'left')!.text, 'q');
    assert.equal(kindOf(fieldChild(b1!, 'left')), 'identifier');
  } finally {
    a.delete();
    b.delete();
  }
});
