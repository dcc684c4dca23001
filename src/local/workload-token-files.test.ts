import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkloadTokenFiles } from './workload-token-files.ts';

function withDir(run: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'weft-tokens-'));
  try {
    run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function fakeIssuer(): { issue: (namespace: string, serviceAccount: string) => string; issued: string[] } {
  const issued: string[] = [];
  return { issued, issue: (namespace, serviceAccount) => { issued.push(`${namespace}/${serviceAccount}`); return `token-${issued.length}-${namespace}-${serviceAccount}`; } };
}

describe('WorkloadTokenFiles', () => {
  it('writes a token issued for the namespace and service account, readable by its owner only, in a 0700 directory', () => withDir((state) => {
    const issuer = fakeIssuer();
    const tokens = new WorkloadTokenFiles(join(state, 'tokens'), issuer.issue);
    tokens.reset();
    const path = tokens.write('default', 'reviews-v1-0', 'bookinfo-reviews');
    assert.equal(path, join(state, 'tokens', 'default.reviews-v1-0.token'));
    assert.equal(readFileSync(path, 'utf8'), 'token-1-default-bookinfo-reviews');
    assert.deepEqual(issuer.issued, ['default/bookinfo-reviews']);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(state, 'tokens')).mode & 0o777, 0o700);
  }));

  it('replaces a replica\'s token with a newly issued one when it is written again', () => withDir((state) => {
    const tokens = new WorkloadTokenFiles(join(state, 'tokens'), fakeIssuer().issue);
    tokens.write('default', 'reviews-v1-0', 'bookinfo-reviews');
    const path = tokens.write('default', 'reviews-v1-0', 'bookinfo-reviews');
    assert.equal(readFileSync(path, 'utf8'), 'token-2-default-bookinfo-reviews');
    assert.equal(statSync(path).mode & 0o777, 0o600);
  }));

  it('keeps replicas of the same name in different namespaces apart', () => withDir((state) => {
    const tokens = new WorkloadTokenFiles(join(state, 'tokens'), fakeIssuer().issue);
    const a = tokens.write('default', 'echo-0', 'default');
    const b = tokens.write('other', 'echo-0', 'default');
    assert.notEqual(a, b);
    assert.equal(readFileSync(a, 'utf8'), 'token-1-default-default');
    assert.equal(readFileSync(b, 'utf8'), 'token-2-other-default');
  }));

  it('removes one replica\'s token, and all of them with the directory', () => withDir((state) => {
    const tokens = new WorkloadTokenFiles(join(state, 'tokens'), fakeIssuer().issue);
    const a = tokens.write('default', 'a-0', 'default');
    const b = tokens.write('default', 'b-0', 'default');
    tokens.remove('default', 'a-0');
    assert.equal(existsSync(a), false);
    assert.equal(existsSync(b), true);
    tokens.removeAll();
    assert.equal(existsSync(join(state, 'tokens')), false);
  }));

  it('clears what an earlier run left when reset, since those tokens are no longer valid', () => withDir((state) => {
    const tokens = new WorkloadTokenFiles(join(state, 'tokens'), fakeIssuer().issue);
    const stale = tokens.write('default', 'gone-0', 'default');
    writeFileSync(join(state, 'tokens', 'stray'), 'x');
    tokens.reset();
    assert.equal(existsSync(stale), false);
    assert.equal(existsSync(join(state, 'tokens', 'stray')), false);
    assert.equal(statSync(join(state, 'tokens')).mode & 0o777, 0o700);
  }));
});
