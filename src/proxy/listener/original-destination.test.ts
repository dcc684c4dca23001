import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { loadOriginalDestination, localAddressDestination, unmapIpv4, type OriginalDestination } from './original-destination.ts';
import { listen, withTimeout } from './test-support.ts';

/** What `lookup` says for a plain (not redirected) loopback connection. */
async function lookupPlainConnection(lookup: OriginalDestination): Promise<{ found: ReturnType<OriginalDestination>; port: number }> {
  let accepted: Socket | undefined;
  const server = createServer((socket) => {
    accepted = socket;
  });
  try {
    const port = await listen(server);
    const client = connect({ host: '127.0.0.1', port });
    await once(client, 'connect');
    await withTimeout((async () => {
      while (accepted === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    })(), 3000, 'not accepted');
    const found = lookup(accepted!);
    client.destroy();
    accepted!.destroy();
    return { found, port };
  } finally {
    server.close();
  }
}

const addon = loadOriginalDestination();

/** Why the iptables proof cannot run here, or undefined when it can. */
function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'SO_ORIGINAL_DST is Linux-only';
  if (!addon.ok) return 'the original-dst addon is not built (scripts/build-native.sh)';
  if (process.getuid?.() !== 0) return 'needs root for a network namespace and iptables';
  if (spawnSync('iptables', ['--version']).status !== 0) return 'iptables is not installed';
  if (spawnSync('unshare', ['-n', 'true']).status !== 0) return 'cannot create a network namespace';
  return undefined;
}

describe('original destination', () => {
  it('falls back to the address a connection was accepted on', async () => {
    const { found, port } = await lookupPlainConnection(localAddressDestination);
    assert.deepEqual(found, { address: '127.0.0.1', port });
  });

  it('unwraps IPv4-mapped IPv6 addresses', () => {
    assert.equal(unmapIpv4('::ffff:10.1.2.3'), '10.1.2.3');
    assert.equal(unmapIpv4('fd00::1'), 'fd00::1');
  });

  it('reports an addon that is not there as a value, naming the build script', () => {
    const result = loadOriginalDestination('/nonexistent/original_dst.node');
    assert.equal(result.ok, false);
    assert.match(result.ok ? '' : result.error, /^the original-dst addon did not load from \/nonexistent\/original_dst\.node \(build it with scripts\/build-native\.sh\)/);
  });

  it('with the addon, gives the local address for a connection that was not redirected', { skip: addon.ok ? false : 'the original-dst addon is not built' }, async () => {
    assert.ok(addon.ok);
    const { found, port } = await lookupPlainConnection(addon.value);
    assert.deepEqual(found, { address: '127.0.0.1', port });
  });

  it('reads SO_ORIGINAL_DST of a connection iptables REDIRECTed, in a network namespace of its own', { skip: netnsUnavailable() ?? false }, () => {
    // Fixed ports are safe: the namespace is new and holds nothing else.
    const moduleUrl = new URL('./original-destination.ts', import.meta.url).href;
    const program = `
      import { createServer, connect } from 'node:net';
      const { loadOriginalDestination } = await import(${JSON.stringify(moduleUrl)});
      const lookup = loadOriginalDestination();
      if (!lookup.ok) throw new Error(lookup.error);
      const server = createServer((socket) => {
        console.log(JSON.stringify({ original: lookup.value(socket), local: socket.localPort }));
        socket.destroy();
        server.close();
      });
      server.listen(15556, '127.0.0.1', () => connect(15555, '127.0.0.1').on('error', () => {}));
      setTimeout(() => process.exit(2), 5000).unref();
    `;
    const script = [
      'ip link set lo up',
      'iptables -t nat -A OUTPUT -p tcp -d 127.0.0.1 --dport 15555 -j REDIRECT --to-ports 15556',
      'exec "$0" --input-type=module -e "$1"',
    ].join(' && ');
    const run = spawnSync('unshare', ['-n', 'sh', '-c', script, process.execPath, program], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout.trim()), { original: { address: '127.0.0.1', port: 15555 }, local: 15556 });
  });
});
