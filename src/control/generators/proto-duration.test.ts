import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { durationSeconds, protoDuration } from './proto-duration.ts';

describe('protoDuration', () => {
  it('writes Istio durations as proto3 JSON seconds', () => {
    assert.equal(protoDuration('10s'), '10s');
    assert.equal(protoDuration('1h30m'), '5400s');
    assert.equal(protoDuration('100ms'), '0.1s');
    assert.equal(protoDuration('1.5s'), '1.5s');
    assert.equal(protoDuration('250us'), '0.00025s');
    assert.equal(protoDuration('0s'), '0s');
  });

  it('counts whole seconds, at least one, for fields Envoy keeps in seconds', () => {
    assert.equal(durationSeconds('2h'), 7200);
    assert.equal(durationSeconds('1500ms'), 1);
    assert.equal(durationSeconds('10ms'), 1);
  });
});
