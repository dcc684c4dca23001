import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ParsedConfig } from '../../index.ts';
import { parseYaml, problems, resourceYaml } from '../../test-support.ts';

/** Parses one PeerAuthentication whose spec is `spec`, written without indentation. */
function peerAuthentication(spec: string): ParsedConfig {
  return parseYaml(resourceYaml('security.istio.io/v1beta1', 'PeerAuthentication', spec, { name: 'default', namespace: 'default' }));
}

describe('PeerAuthentication', () => {
  it('accepts every mTLS mode', () => {
    for (const mode of ['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']) {
      const result = peerAuthentication(`mtls:\n  mode: ${mode}`);
      assert.deepEqual(problems(result), [], mode);
      assert.equal(result.resources.length, 1);
    }
  });

  it('accepts an empty spec and an empty selector (inherit everything)', () => {
    assert.deepEqual(problems(peerAuthentication('{}')), []);
    assert.deepEqual(problems(peerAuthentication('selector: {}')), []);
  });

  it('accepts port-level mTLS for a selected workload, with numeric or quoted port keys', () => {
    const result = peerAuthentication(`
selector:
  matchLabels:
    app: reviews
mtls:
  mode: STRICT
portLevelMtls:
  8080:
    mode: DISABLE
  "9090":
    mode: PERMISSIVE
`);
    assert.deepEqual(problems(result), []);
    const spec = (result.resources[0]!.object as { spec: { portLevelMtls: Record<string, { mode: string }> } }).spec;
    assert.deepEqual(spec.portLevelMtls, { 8080: { mode: 'DISABLE' }, 9090: { mode: 'PERMISSIVE' } });
  });

  it('rejects an unknown mode, suggesting the closest', () => {
    const result = peerAuthentication('mtls:\n  mode: STRIC');
    assert.deepEqual(problems(result), ['spec.mtls.mode: must be one of UNSET, DISABLE, PERMISSIVE, STRICT, got string "STRIC" (did you mean "STRICT"?)']);
    assert.equal(result.diagnostics[0]!.origin?.line, 8);
    assert.equal(result.resources.length, 0);
  });

  it('rejects a misspelt field with a suggestion', () => {
    assert.deepEqual(problems(peerAuthentication('mTLS:\n  mode: STRICT')), ['spec.mTLS: unknown field "mTLS" (did you mean "mtls"?)']);
    assert.deepEqual(problems(peerAuthentication('selector: {matchLabels: {app: a}}\nportLevelMTLS: {}')), ['spec.portLevelMTLS: unknown field "portLevelMTLS" (did you mean "portLevelMtls"?)']);
  });

  it('refuses targetRef, which PeerAuthentication does not have', () => {
    assert.match(problems(peerAuthentication('targetRef: {kind: Service, name: s}'))[0]!, /^spec\.targetRef: unknown field "targetRef"/);
  });

  it('rejects port-level mTLS without a selector', () => {
    assert.deepEqual(problems(peerAuthentication('portLevelMtls:\n  "80":\n    mode: STRICT')), [
      'spec.portLevelMtls: portLevelMtls requires a selector with matchLabels (a namespace- or mesh-wide policy cannot set port-level mTLS)',
    ]);
    assert.deepEqual(problems(peerAuthentication('selector: {}\nportLevelMtls:\n  "80":\n    mode: STRICT')), [
      'spec.portLevelMtls: portLevelMtls requires a selector with matchLabels (a namespace- or mesh-wide policy cannot set port-level mTLS)',
    ]);
  });

  it('rejects port keys that are not port numbers 1..65535', () => {
    assert.deepEqual(problems(peerAuthentication('selector: {matchLabels: {app: a}}\nportLevelMtls:\n  "0": {mode: STRICT}\n  http: {mode: STRICT}\n  "65536": {mode: STRICT}')), [
      'spec.portLevelMtls["0"]: "0" is not a port number (expected 1..65535)',
      'spec.portLevelMtls["65536"]: "65536" is not a port number (expected 1..65535)',
      'spec.portLevelMtls.http: "http" is not a port number (expected 1..65535)',
    ]);
  });

  it('rejects an empty portLevelMtls map', () => {
    assert.deepEqual(problems(peerAuthentication('selector: {matchLabels: {app: a}}\nportLevelMtls: {}')), [
      'spec.portLevelMtls: portLevelMtls must set at least one port (leave it out otherwise)',
    ]);
  });

  it('rejects a wrong type and an invalid selector label', () => {
    assert.deepEqual(problems(peerAuthentication('mtls: STRICT\nselector: {matchLabels: {"app*": a}}')), [
      'spec.selector.matchLabels["app*"]: label key "app*" is not valid (at most 63 letters, digits, \'-\', \'_\' and \'.\', starting and ending with a letter or digit)',
      'spec.mtls: expected a mapping, got string "STRICT"',
    ]);
  });
});
