import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

interface Run {
  /** The first stderr line matching `until`, or undefined when the process exited first. */
  readonly line: string | undefined;
  readonly stderr: string;
  readonly code: number | null;
}

/**
 * Runs `weft control-plane` on free ports until it logs a line matching `until` (then stops it with
 * SIGTERM) or exits by itself; killed after 20 s.
 */
function runControlPlane(args: readonly string[], until: RegExp): Promise<Run> {
  const child = spawn(process.execPath, [CLI, 'control-plane', '--xds-address', '127.0.0.1:0', '--debug-address', '127.0.0.1:0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let line: string | undefined;
  const deadline = setTimeout(() => child.kill('SIGKILL'), 20_000);
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
    if (line === undefined) {
      line = stderr.split('\n').find((l) => until.test(l));
      if (line !== undefined) child.kill('SIGTERM');
    }
  });
  return new Promise((done) => child.on('close', (code) => {
    clearTimeout(deadline);
    done({ line, stderr, code });
  }));
}

describe('weft control-plane and its certificate authority', () => {
  let dir: string;
  let configDir: string;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'weft-cp-command-'));
    configDir = join(dir, 'config');
    mkdirSync(configDir);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('creates a root in --ca-dir (the key 0600) and reuses it on the next start', async () => {
    const caDir = join(dir, 'ca');
    const first = await runControlPlane(['--config-dir', configDir, '--ca-dir', caDir], /control plane ready/);
    assert.ok(first.line !== undefined, first.stderr);
    const fingerprint = /certificate authority ready .*sha256=(\S+)/.exec(first.stderr)?.[1];
    assert.ok(fingerprint !== undefined, first.stderr);
    assert.match(first.stderr, /root=CN=Weft Root CA, O=cluster\.local /);
    // --xds-address with port 0: the TLS port is picked by the system too, on the same host.
    assert.match(first.line!, / xdsTls=127\.0\.0\.1:[1-9]\d*/);
    assert.match(first.stderr, /control plane certificate issued names=istiod\.istio-system\.svc,istiod\.istio-system\.svc\.cluster\.local,localhost,127\.0\.0\.1 /);
    assert.equal(statSync(join(caDir, 'ca-key.pem')).mode & 0o777, 0o600);
    const cert = readFileSync(join(caDir, 'ca-cert.pem'), 'utf8');

    const second = await runControlPlane(['--config-dir', configDir, '--ca-dir', caDir], /control plane ready/);
    assert.ok(second.line !== undefined, second.stderr);
    assert.equal(/certificate authority ready .*sha256=(\S+)/.exec(second.stderr)?.[1], fingerprint);
    assert.equal(readFileSync(join(caDir, 'ca-cert.pem'), 'utf8'), cert);
  });

  it('signs for the trust domain given', async () => {
    const run = await runControlPlane(['--config-dir', configDir, '--trust-domain', 'example.org'], /control plane ready/);
    assert.match(run.stderr, /certificate authority ready trustDomain=example\.org root=CN=Weft Root CA, O=example\.org /);
  });

  it('refuses to start with a --cacerts directory that lacks files, naming them', async () => {
    const cacerts = join(dir, 'cacerts');
    mkdirSync(cacerts);
    writeFileSync(join(cacerts, 'ca-cert.pem'), 'not a certificate');
    const run = await runControlPlane(['--config-dir', configDir, '--cacerts', cacerts], /control plane ready/);
    assert.equal(run.line, undefined, run.stderr);
    assert.equal(run.code, 1);
    assert.match(run.stderr, /control plane failed to start: plugged-in CA in .*cacerts: missing ca-key\.pem, root-cert\.pem, cert-chain\.pem/);
  });
});
