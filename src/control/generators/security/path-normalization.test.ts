import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_MESH_CONFIG } from '../../model/index.ts';
import { pathNormalizationOptions } from './path-normalization.ts';

describe('pathNormalizationOptions', () => {
  it('adds, mode by mode, RFC 3986 normalization, slash merging, then decoding of escaped slashes', () => {
    assert.deepEqual(pathNormalizationOptions('NONE'), { normalizePath: false, mergeSlashes: false, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' });
    assert.deepEqual(pathNormalizationOptions('BASE'), { normalizePath: true, mergeSlashes: false, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' });
    assert.deepEqual(pathNormalizationOptions('MERGE_SLASHES'), { normalizePath: true, mergeSlashes: true, pathWithEscapedSlashesAction: 'KEEP_UNCHANGED' });
    assert.deepEqual(pathNormalizationOptions('DECODE_AND_MERGE_SLASHES'), { normalizePath: true, mergeSlashes: true, pathWithEscapedSlashesAction: 'UNESCAPE_AND_FORWARD' });
  });

  it('defaults to the mode that leaves no escaped or doubled slash for an app to reinterpret', () => {
    assert.equal(DEFAULT_MESH_CONFIG.pathNormalization, 'DECODE_AND_MERGE_SLASHES');
    assert.deepEqual(DEFAULT_MESH_CONFIG.extensionProviders, []);
  });
});
