import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { exportToAnnotation, isExportedTo, normalizeExportTo } from './export-to.ts';

describe('normalizeExportTo', () => {
  it('exports to every namespace when nothing is written', () => {
    assert.deepEqual(normalizeExportTo(undefined, 'shop'), ['*']);
    assert.deepEqual(normalizeExportTo([], 'shop'), ['*']);
  });

  it('replaces "." by the own namespace and removes duplicates', () => {
    assert.deepEqual(normalizeExportTo(['.', 'shop', 'web'], 'shop'), ['shop', 'web']);
  });

  it('lets "*" stand for everything', () => {
    assert.deepEqual(normalizeExportTo(['web', '*'], 'shop'), ['*']);
  });
});

describe('exportToAnnotation', () => {
  it('reads a comma-separated list', () => {
    assert.deepEqual(exportToAnnotation('., web ,', 'shop'), ['shop', 'web']);
  });

  it('exports to no namespace with "~"', () => {
    assert.deepEqual(exportToAnnotation('~', 'shop'), []);
  });

  it('defaults to every namespace without the annotation', () => {
    assert.deepEqual(exportToAnnotation(undefined, 'shop'), ['*']);
  });
});

describe('isExportedTo', () => {
  it('sees public resources from anywhere and named ones only from the named namespaces', () => {
    assert.equal(isExportedTo(['*'], 'any'), true);
    assert.equal(isExportedTo(['shop', 'web'], 'web'), true);
    assert.equal(isExportedTo(['shop'], 'web'), false);
    assert.equal(isExportedTo([], 'shop'), false);
  });
});
