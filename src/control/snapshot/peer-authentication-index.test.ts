import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ofKind } from '../../config/index.ts';
import { parseYaml, problems } from '../../config/test-support.ts';
import type { Labels } from '../model/index.ts';
import { buildPeerAuthenticationIndex, type EffectivePeerAuthentication } from './peer-authentication-index.ts';

interface PolicyOptions {
  readonly selector?: Labels;
  readonly mode?: string;
  readonly ports?: Readonly<Record<string, string | undefined>>;
  readonly created?: string;
}

function policy(namespace: string, name: string, options: PolicyOptions = {}): string {
  const created = options.created !== undefined ? `, creationTimestamp: "${options.created}"` : '';
  const spec = [
    options.selector !== undefined ? `selector: { matchLabels: ${JSON.stringify(options.selector)} }` : '',
    options.mode !== undefined ? `mtls: { mode: ${options.mode} }` : '',
    options.ports !== undefined
      ? `portLevelMtls: { ${Object.entries(options.ports).map(([port, mode]) => `"${port}": { ${mode !== undefined ? `mode: ${mode}` : ''} }`).join(', ')} }`
      : '',
  ].filter((s) => s !== '').join(', ');
  return `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: ${name}, namespace: ${namespace}${created} }
spec: { ${spec} }
---
`;
}

function effective(policies: readonly string[], namespace: string, labels: Labels): { mode: string; ports: Record<string, string> } {
  const parsed = parseYaml(policies.join(''));
  assert.deepEqual(problems(parsed), []);
  const found: EffectivePeerAuthentication = buildPeerAuthenticationIndex(ofKind(parsed.resources, 'PeerAuthentication'), 'istio-system').effective(namespace, labels);
  return { mode: found.mode, ports: Object.fromEntries([...found.portLevel].map(([port, mode]) => [String(port), mode])) };
}

const REVIEWS = { app: 'reviews', version: 'v1' };

describe('buildPeerAuthenticationIndex', () => {
  it('is PERMISSIVE when no policy applies', () => {
    assert.deepEqual(effective([], 'default', REVIEWS), { mode: 'PERMISSIVE', ports: {} });
    assert.deepEqual(effective([policy('other', 'strict', { mode: 'STRICT' })], 'default', REVIEWS), { mode: 'PERMISSIVE', ports: {} });
  });

  it('prefers the workload policy, then the namespace one, then the mesh one', () => {
    const all = [
      policy('istio-system', 'mesh', { mode: 'STRICT' }),
      policy('default', 'namespace', { mode: 'DISABLE' }),
      policy('default', 'reviews', { selector: { app: 'reviews' }, mode: 'PERMISSIVE' }),
    ];
    assert.equal(effective(all, 'default', REVIEWS).mode, 'PERMISSIVE');
    assert.equal(effective(all.slice(0, 2), 'default', REVIEWS).mode, 'DISABLE');
    assert.equal(effective(all.slice(0, 1), 'default', REVIEWS).mode, 'STRICT');
    assert.equal(effective(all, 'default', { app: 'ratings' }).mode, 'DISABLE', 'a selector applies only to the workloads it matches');
    assert.equal(effective(all, 'shop', REVIEWS).mode, 'STRICT', 'namespace and workload policies stay in their namespace');
  });

  it('lets UNSET inherit from the level above, up to PERMISSIVE', () => {
    const mesh = policy('istio-system', 'mesh', { mode: 'STRICT' });
    const unsetNamespace = policy('default', 'namespace', { mode: 'UNSET' });
    const unsetWorkload = policy('default', 'reviews', { selector: { app: 'reviews' } });
    assert.equal(effective([mesh, unsetNamespace, unsetWorkload], 'default', REVIEWS).mode, 'STRICT');
    assert.equal(effective([policy('default', 'namespace', { mode: 'DISABLE' }), unsetWorkload], 'default', REVIEWS).mode, 'DISABLE');
    assert.equal(effective([unsetNamespace, unsetWorkload], 'default', REVIEWS).mode, 'PERMISSIVE');
  });

  it('ignores a policy with a selector in the root namespace, even for the root namespace\'s workloads', () => {
    const rootSelecting = policy('istio-system', 'reviews', { selector: { app: 'reviews' }, mode: 'DISABLE' });
    assert.equal(effective([policy('istio-system', 'mesh', { mode: 'STRICT' }), rootSelecting], 'default', REVIEWS).mode, 'STRICT');
    assert.equal(effective([rootSelecting], 'istio-system', REVIEWS).mode, 'PERMISSIVE');
    assert.equal(effective([policy('istio-system', 'mesh', { mode: 'DISABLE' })], 'istio-system', REVIEWS).mode, 'DISABLE');
  });

  it('takes port modes from the workload policy, an UNSET port taking the workload\'s resolved mode', () => {
    const yaml = [
      policy('default', 'namespace', { mode: 'STRICT' }),
      policy('default', 'reviews', { selector: { app: 'reviews' }, ports: { 8080: 'DISABLE', 9090: 'UNSET', 9091: undefined } }),
    ];
    assert.deepEqual(effective(yaml, 'default', REVIEWS), { mode: 'STRICT', ports: { 8080: 'DISABLE', 9090: 'STRICT', 9091: 'STRICT' } });
  });

  it('settles several policies at one level by the oldest creationTimestamp (none counting as oldest), then name, even when the chosen one is UNSET', () => {
    const selector = { app: 'reviews' };
    const newer = policy('default', 'a', { selector, mode: 'DISABLE', created: '2025-02-01T00:00:00Z' });
    const older = policy('default', 'b', { selector, mode: 'STRICT', created: '2025-01-01T00:00:00Z' });
    assert.equal(effective([newer, older], 'default', REVIEWS).mode, 'STRICT');
    assert.equal(effective([newer, policy('default', 'z', { selector, mode: 'STRICT' })], 'default', REVIEWS).mode, 'STRICT');
    assert.equal(effective([policy('default', 'b', { selector, mode: 'DISABLE' }), policy('default', 'a', { selector, mode: 'STRICT' })], 'default', REVIEWS).mode, 'STRICT');
    const oldUnset = policy('default', 'old', { created: '2024-01-01T00:00:00Z' });
    const newStrict = policy('default', 'new', { mode: 'STRICT', created: '2025-01-01T00:00:00Z' });
    assert.equal(effective([newStrict, oldUnset], 'default', REVIEWS).mode, 'PERMISSIVE');
  });

  it('answers the same policy for the same namespace and labels, whatever their order', () => {
    const parsed = parseYaml(policy('default', 'reviews', { selector: { app: 'reviews' }, mode: 'STRICT', ports: { 8080: 'DISABLE' } }));
    const index = buildPeerAuthenticationIndex(ofKind(parsed.resources, 'PeerAuthentication'), 'istio-system');
    const first = index.effective('default', { app: 'reviews', version: 'v1' });
    assert.equal(index.effective('default', { version: 'v1', app: 'reviews' }), first);
    assert.equal(first.portLevel.get(8080), 'DISABLE');
  });
});
