import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ofKind } from '../../src/config/index.ts';
import { analyzeFiles, missingScripts } from '../shared/test-support.ts';

describe('echo YAML', () => {
  it('analyzes clean, with its traffic split', () => {
    assert.deepEqual(analyzeFiles(['echo']).findings, []);
  });

  it('runs two versions of echo and the client, each from a script beside the YAML', () => {
    const { resources } = analyzeFiles(['echo/echo.yaml']);
    assert.deepEqual(ofKind(resources, 'LocalWorkload').map((w) => `${w.name} ${w.object.spec.labels['version']}`), ['echo-v1 v1', 'echo-v2 v2', 'echo-client v1']);
    assert.deepEqual(missingScripts(resources), []);
  });
});
