import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatDiagnostic } from './index.ts';
import { parseYaml } from './test-support.ts';

/**
 * Each file of testdata/malformed/ is one broken input; its `# expect:` lines are the exact
 * findings, in order, that reading it must produce. Nothing more, nothing less.
 */
const corpus = fileURLToPath(new URL('./testdata/malformed/', import.meta.url));
const files = readdirSync(corpus).filter((f) => f.endsWith('.yaml') || f.endsWith('.json')).sort();

describe('malformed documents', () => {
  it('has at least 40 of them', () => {
    assert.ok(files.length >= 40, `only ${files.length} malformed documents`);
  });
  for (const file of files) {
    const text = readFileSync(`${corpus}${file}`, 'utf8');
    const expected = [...text.matchAll(/^(?:#|\/\/) expect: (.*)$/gm)].map((m) => m[1]!);
    it(`${file}: ${expected.length === 1 ? expected[0]!.replace(/^.*?\) /, '') : `${expected.length} findings`}`, () => {
      assert.ok(expected.length > 0, 'the file states no expected finding');
      const source = file.endsWith('.json') ? text.replace(/^\/\/.*$/gm, '') : text;
      const { diagnostics, resources } = parseYaml(source, file);
      assert.deepEqual(diagnostics.map(formatDiagnostic), expected);
      const rejected = diagnostics.filter((d) => d.level === 'Error' && d.code !== 'WFT0115');
      assert.equal(resources.some((r) => rejected.some((d) => d.resource?.name === r.name && d.resource.kind === r.kind)), false, 'a resource with errors was kept');
    });
  }
});
