import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { err, ok, type Result } from '../../core/index.ts';
import { applyCaptureRules, captureRules } from './capture-rules.ts';
import { PodNetwork, type Pod } from './pod-network.ts';
import { runCommand, type CommandRunner } from './run-command.ts';
import {
  CLIENT_SCRIPT, PROBE_SERVER_SCRIPT, answeringServer, askFromHost, parseAnswer, podNetworkingUnavailable, runNodeInPod, startNodeInPod, testPrefix, testSubnet,
  type Answer, type PodProcess,
} from './test-support.ts';

function value<T>(result: Result<T, string>): T {
  if (!result.ok) assert.fail(result.error);
  return result.value;
}

/** The `-A` lines of a chain, in order. */
function chain(rules: string, name: string): string[] {
  return rules.split('\n').filter((line) => line.startsWith(`-A ${name} `));
}

describe('captureRules', () => {
  it('is Istio’s nat table for REDIRECT capture, matching the proxy by its group', () => {
    assert.equal(captureRules(), [
      '*nat',
      ':PREROUTING ACCEPT [0:0]',
      ':INPUT ACCEPT [0:0]',
      ':OUTPUT ACCEPT [0:0]',
      ':POSTROUTING ACCEPT [0:0]',
      ':ISTIO_INBOUND - [0:0]',
      ':ISTIO_IN_REDIRECT - [0:0]',
      ':ISTIO_OUTPUT - [0:0]',
      ':ISTIO_REDIRECT - [0:0]',
      '-A PREROUTING -p tcp -j ISTIO_INBOUND',
      '-A ISTIO_INBOUND -p tcp --dport 15008 -j RETURN',
      '-A ISTIO_INBOUND -p tcp --dport 15090 -j RETURN',
      '-A ISTIO_INBOUND -p tcp --dport 15021 -j RETURN',
      '-A ISTIO_INBOUND -p tcp --dport 15020 -j RETURN',
      '-A ISTIO_INBOUND -p tcp --dport 15000 -j RETURN',
      '-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT',
      '-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 15006',
      '-A OUTPUT -p tcp -j ISTIO_OUTPUT',
      '-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN',
      '-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner 1337 -j ISTIO_IN_REDIRECT',
      '-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner 1337 -j RETURN',
      '-A ISTIO_OUTPUT -m owner --gid-owner 1337 -j RETURN',
      '-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN',
      '-A ISTIO_OUTPUT -j ISTIO_REDIRECT',
      '-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 15001',
      'COMMIT',
      '',
    ].join('\n'));
  });

  it('never matches the proxy by uid, since it runs as root like the app', () => {
    assert.doesNotMatch(captureRules(), /uid-owner/);
  });

  it('takes the group, the capture ports and the excluded inbound ports', () => {
    const rules = captureRules({ proxyGid: 2000, outboundCapturePort: 16001, inboundCapturePort: 16006, excludeInboundPorts: [22] });
    assert.deepEqual(chain(rules, 'ISTIO_INBOUND'), ['-A ISTIO_INBOUND -p tcp --dport 22 -j RETURN', '-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT']);
    assert.deepEqual(chain(rules, 'ISTIO_IN_REDIRECT'), ['-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports 16006']);
    assert.deepEqual(chain(rules, 'ISTIO_REDIRECT'), ['-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports 16001']);
    assert.equal(chain(rules, 'ISTIO_OUTPUT').filter((line) => line.includes('--gid-owner 2000')).length, 3);
    assert.deepEqual(chain(captureRules({ excludeInboundPorts: [] }), 'ISTIO_INBOUND'), ['-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT']);
  });

  it('lets excluded destinations through after the loopback rules and before the redirect', () => {
    const output = chain(captureRules({ excludeOutboundCidrs: ['10.213.0.1', '192.168.0.0/16'] }), 'ISTIO_OUTPUT');
    assert.deepEqual(output.slice(-4), [
      '-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN',
      '-A ISTIO_OUTPUT -d 10.213.0.1/32 -j RETURN',
      '-A ISTIO_OUTPUT -d 192.168.0.0/16 -j RETURN',
      '-A ISTIO_OUTPUT -j ISTIO_REDIRECT',
    ]);
  });

  it('refuses options that are not ports, groups or IPv4 CIDRs', () => {
    assert.throws(() => captureRules({ proxyGid: -1 }), RangeError);
    assert.throws(() => captureRules({ outboundCapturePort: 0 }), RangeError);
    assert.throws(() => captureRules({ inboundCapturePort: 70000 }), RangeError);
    assert.throws(() => captureRules({ excludeInboundPorts: [1.5] }), RangeError);
    assert.throws(() => captureRules({ excludeOutboundCidrs: ['10.0.0.0/33'] }), RangeError);
    assert.throws(() => captureRules({ excludeOutboundCidrs: ['10.0.0.0/8 -j ACCEPT'] }), RangeError);
  });
});

describe('applyCaptureRules', () => {
  it('restores the rules in the pod’s namespace, the text on stdin', async () => {
    const calls: { line: string; input: string | undefined }[] = [];
    const run: CommandRunner = async (command, args, input) => {
      calls.push({ line: [command, ...args].join(' '), input });
      return ok('');
    };
    assert.deepEqual(await applyCaptureRules('weft-a', 'RULES', { run }), ok(undefined));
    assert.deepEqual(await applyCaptureRules('weft-a', 'RULES', { run, iptablesRestore: 'iptables-legacy-restore' }), ok(undefined));
    assert.deepEqual(calls, [
      { line: 'ip netns exec weft-a iptables-restore -w 5', input: 'RULES' },
      { line: 'ip netns exec weft-a iptables-legacy-restore -w 5', input: 'RULES' },
    ]);
  });

  it('reports the failure of iptables-restore', async () => {
    const run: CommandRunner = async () => err('`ip netns exec weft-a iptables-restore -w 5` failed (exit 2): iptables-restore: line 3 failed');
    assert.deepEqual(await applyCaptureRules('weft-a', 'RULES', { run }), err('`ip netns exec weft-a iptables-restore -w 5` failed (exit 2): iptables-restore: line 3 failed'));
  });
});

const ADDON = fileURLToPath(new URL('../../../native/original-dst/build/Release/original_dst.node', import.meta.url));
const BUILD_SCRIPT = fileURLToPath(new URL('../../../scripts/build-native.sh', import.meta.url));

/** Why the capture cannot be proven here, or undefined; builds the original-dst addon when it is missing. */
async function captureUnavailable(): Promise<string | undefined> {
  const reason = await podNetworkingUnavailable();
  if (reason !== undefined) return reason;
  if (!existsSync(ADDON)) {
    const built = await runCommand('bash', [BUILD_SCRIPT]);
    if (!built.ok || !existsSync(ADDON)) return `the original-dst addon is not built and scripts/build-native.sh did not build it${built.ok ? '' : `: ${built.error}`}`;
  }
  return undefined;
}

/** The iptables backends to prove the rules with: each one installed, else the system's iptables-restore. */
async function backends(): Promise<string[]> {
  const found: string[] = [];
  for (const backend of ['iptables-nft-restore', 'iptables-legacy-restore']) {
    if ((await runCommand(backend, ['--version'])).ok) found.push(backend);
  }
  return found.length > 0 ? found : ['iptables-restore'];
}

const unavailable = await captureUnavailable();
const PROXY_GID = 1337;

for (const [index, backend] of (unavailable === undefined ? await backends() : ['iptables-restore']).entries()) {
  describe(`capture in a pod with ${backend}`, { skip: unavailable ?? false }, () => {
    const prefix = testPrefix(`c${index}`);
    let network: PodNetwork;
    let pod: Pod;
    let probe: PodProcess;
    let hostServer: { readonly server: Server; readonly port: number };

    /** What a client started in the pod got: as the app (root) or as the proxy (its group). */
    async function askFromPod(as: 'app' | 'proxy', host: string, port: number, localAddress?: string): Promise<Answer> {
      const args = [host, String(port), ...(localAddress !== undefined ? [localAddress] : [])];
      return parseAnswer(await runNodeInPod(pod.netns, CLIENT_SCRIPT, args, as === 'proxy' ? { gid: PROXY_GID } : {}));
    }

    before(async () => {
      await PodNetwork.cleanup(prefix);
      network = value(await PodNetwork.create({ prefix, subnet: testSubnet(2 + index) }));
      pod = value(await network.addPod('productpage-v1-0'));
      value(await network.hostsFile(pod.netns, [{ address: '240.240.0.5', names: ['reviews', 'reviews.default.svc.cluster.local'] }]));
      value(await applyCaptureRules(pod.netns, captureRules({ proxyGid: PROXY_GID }), { iptablesRestore: backend }));
      // The proxy's listeners (15001 outbound, 15006 inbound, 15021 health) and the app's 9080, in one process with the proxy's group.
      probe = startNodeInPod(pod.netns, PROBE_SERVER_SCRIPT, [ADDON, '15001', '15006', '15021', '9080'], { gid: PROXY_GID });
      await probe.waitForLine((line) => line === 'ready');
      hostServer = await answeringServer(network.hostAddress);
    });

    after(async () => {
      await probe?.stop();
      hostServer?.server.close();
      await network?.close();
    });

    it('installs the four Istio chains in the pod’s nat table', async () => {
      const argv = PodNetwork.commandInPod(pod.netns, backend.replace('-restore', ''), ['-w', '5', '-t', 'nat', '-S']);
      const listed = value(await runCommand(argv.command, argv.args));
      for (const name of ['ISTIO_INBOUND', 'ISTIO_IN_REDIRECT', 'ISTIO_OUTPUT', 'ISTIO_REDIRECT']) assert.match(listed, new RegExp(`^-N ${name}$`, 'm'));
      assert.match(listed, /--gid-owner 1337 -j RETURN/);
    });

    it('sends the app’s outbound connection to 15001, which finds where it was going', async () => {
      assert.deepEqual(await askFromPod('app', '240.240.0.5', 9080), { listener: 15001, originalDestination: { address: '240.240.0.5', port: 9080 } });
    });

    it('resolves a service name from the hosts file and captures the connection to it', async () => {
      assert.deepEqual(await askFromPod('app', 'reviews.default.svc.cluster.local', 9080), { listener: 15001, originalDestination: { address: '240.240.0.5', port: 9080 } });
    });

    it('captures the app’s connection to the host too, but not the proxy’s', async () => {
      assert.deepEqual(await askFromPod('app', network.hostAddress, hostServer.port), { listener: 15001, originalDestination: { address: network.hostAddress, port: hostServer.port } });
      assert.deepEqual(await askFromPod('proxy', network.hostAddress, hostServer.port), { listener: 'host' });
    });

    it('sends inbound connections to 15006, which finds the port they were for', async () => {
      assert.deepEqual(await askFromHost(pod.address, 9080), { listener: 15006, originalDestination: { address: pod.address, port: 9080 } });
    });

    it('leaves inbound connections to the proxy’s own ports alone', async () => {
      assert.deepEqual(await askFromHost(pod.address, 15021), { listener: 15021, originalDestination: { address: pod.address, port: 15021 } });
    });

    it('lets the app reach itself over localhost and its own address directly', async () => {
      assert.deepEqual(await askFromPod('app', '127.0.0.1', 9080), { listener: 9080, originalDestination: { address: '127.0.0.1', port: 9080 } });
      assert.deepEqual(await askFromPod('app', pod.address, 9080), { listener: 9080, originalDestination: { address: pod.address, port: 9080 } });
    });

    it('sends the proxy’s connection to its own pod’s address through inbound capture', async () => {
      assert.deepEqual(await askFromPod('proxy', pod.address, 9080), { listener: 15006, originalDestination: { address: pod.address, port: 9080 } });
    });

    it('lets the proxy reach the app from 127.0.0.6 (inbound passthrough) and over localhost', async () => {
      assert.deepEqual(await askFromPod('proxy', pod.address, 9080, '127.0.0.6'), { listener: 9080, originalDestination: { address: pod.address, port: 9080 } });
      assert.deepEqual(await askFromPod('proxy', '127.0.0.1', 9080), { listener: 9080, originalDestination: { address: '127.0.0.1', port: 9080 } });
    });

    it('replaces the pod’s nat table when applied again', async () => {
      value(await applyCaptureRules(pod.netns, captureRules({ proxyGid: PROXY_GID, excludeOutboundCidrs: [network.hostAddress] }), { iptablesRestore: backend }));
      const argv = PodNetwork.commandInPod(pod.netns, backend.replace('-restore', ''), ['-w', '5', '-t', 'nat', '-S', 'OUTPUT']);
      assert.equal(value(await runCommand(argv.command, argv.args)).split('\n').filter((line) => line.startsWith('-A OUTPUT')).length, 1);
      assert.deepEqual(await askFromPod('app', network.hostAddress, hostServer.port), { listener: 'host' });
      assert.deepEqual(await askFromPod('app', '240.240.0.5', 9080), { listener: 15001, originalDestination: { address: '240.240.0.5', port: 9080 } });
    });
  });
}
