import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { err, ok, type Result } from '../../core/index.ts';
import { PodNetwork, type PodNetworkOptions } from './pod-network.ts';
import { runCommand, type CommandRunner } from './run-command.ts';
import { CLIENT_SCRIPT, LOOKUP_SCRIPT, askFromHost, parseAnswer, podNetworkingUnavailable, runNodeInPod, startNodeInPod, testPrefix, testSubnet, type PodProcess } from './test-support.ts';

/** Records every command; answers `ip -j ...` listings from `listings` and fails the commands `fails` picks. */
function fakeRunner(options: { readonly links?: readonly string[]; readonly namespaces?: readonly string[]; readonly fails?: (line: string) => boolean } = {}) {
  const commands: string[] = [];
  const run: CommandRunner = async (command, args) => {
    const line = [command, ...args].join(' ');
    commands.push(line);
    if (options.fails?.(line)) return err(`\`${line}\` failed (exit 2): RTNETLINK answers: File exists`);
    if (line === 'ip -j link show') return ok(JSON.stringify((options.links ?? []).map((ifname) => ({ ifname }))));
    if (line === 'ip -j netns list') return ok(JSON.stringify((options.namespaces ?? []).map((name) => ({ name }))));
    return ok('');
  };
  return { run, commands };
}

function value<T>(result: Result<T, string>): T {
  if (!result.ok) assert.fail(result.error);
  return result.value;
}

describe('PodNetwork', () => {
  let dir = '';
  let noBrNetfilter = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'weft-pod-network-'));
    noBrNetfilter = join(dir, 'no-bridge-sysctls');
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  function options(run: CommandRunner, more: Partial<PodNetworkOptions> = {}): PodNetworkOptions {
    return { prefix: 'weft', subnet: '10.213.0.0/16', run, etcNetnsDir: join(dir, 'netns'), bridgeSysctlDir: noBrNetfilter, ...more };
  }

  describe('create', () => {
    it('makes a bridge with the subnet’s first address and brings it up', async () => {
      const { run, commands } = fakeRunner();
      const network = value(await PodNetwork.create(options(run)));
      assert.equal(network.bridge, 'weft-br');
      assert.equal(network.hostAddress, '10.213.0.1');
      assert.deepEqual(commands, ['ip link add weft-br type bridge', 'ip addr add 10.213.0.1/16 dev weft-br', 'ip link set weft-br up']);
    });

    it('accepts bridged traffic in FORWARD when br_netfilter hands it to iptables', async () => {
      const sysctls = join(dir, 'br-netfilter');
      await mkdir(sysctls);
      await writeFile(join(sysctls, 'bridge-nf-call-iptables'), '1\n');
      const { run, commands } = fakeRunner();
      value(await PodNetwork.create(options(run, { bridgeSysctlDir: sysctls })));
      assert.equal(commands.at(-1), 'iptables -w 5 -I FORWARD -i weft-br -o weft-br -m comment --comment weft pod network weft -j ACCEPT');
    });

    it('says how to clean up when the bridge exists already', async () => {
      const { run } = fakeRunner({ fails: (line) => line === 'ip link add weft-br type bridge' });
      const created = await PodNetwork.create(options(run));
      assert.ok(!created.ok);
      assert.match(created.error, /^`ip link add weft-br type bridge` failed \(exit 2\): RTNETLINK answers: File exists/);
      assert.match(created.error, /PodNetwork\.cleanup\('weft'\)/);
    });

    it('removes the bridge again when a later step fails', async () => {
      const { run, commands } = fakeRunner({ links: ['lo', 'weft-br'], fails: (line) => line === 'ip link set weft-br up' });
      const created = await PodNetwork.create(options(run));
      assert.ok(!created.ok);
      assert.match(created.error, /`ip link set weft-br up` failed/);
      assert.ok(commands.includes('ip link del weft-br'));
    });

    it('refuses prefixes and subnets that cannot work', async () => {
      const { run } = fakeRunner();
      await assert.rejects(PodNetwork.create(options(run, { prefix: 'Weft' })), RangeError);
      await assert.rejects(PodNetwork.create(options(run, { prefix: 'weftweftweft' })), RangeError);
      await assert.rejects(PodNetwork.create(options(run, { subnet: '10.213.0.0' })), RangeError);
      await assert.rejects(PodNetwork.create(options(run, { subnet: '10.213.0.1/16' })), /host bits set: the subnet is 10\.213\.0\.0\/16/);
      await assert.rejects(PodNetwork.create(options(run, { subnet: '10.213.0.0/31' })), RangeError);
      // 2^24 addresses need veth names like weftweft-v9zldq: 16 characters.
      await assert.rejects(PodNetwork.create(options(run, { prefix: 'weftweftw', subnet: '10.0.0.0/8' })), /longer than 15/);
    });
  });

  describe('addPod', () => {
    it('gives each pod a namespace, a veth on the bridge and the next address, with a default route via the host', async () => {
      const { run, commands } = fakeRunner();
      const network = value(await PodNetwork.create(options(run)));
      commands.length = 0;
      assert.deepEqual(value(await network.addPod('productpage-v1-0')), { netns: 'weft-productpage-v1-0', address: '10.213.0.2' });
      assert.deepEqual(commands, [
        'ip netns add weft-productpage-v1-0',
        'ip link add weft-v2 type veth peer name eth0 netns weft-productpage-v1-0',
        'ip link set weft-v2 master weft-br',
        'ip link set weft-v2 up',
        'ip -n weft-productpage-v1-0 addr add 10.213.0.2/16 dev eth0',
        'ip -n weft-productpage-v1-0 link set eth0 up',
        'ip -n weft-productpage-v1-0 link set lo up',
        'ip -n weft-productpage-v1-0 route add default via 10.213.0.1',
      ]);
      assert.deepEqual(value(await network.addPod('reviews-v1-0')), { netns: 'weft-reviews-v1-0', address: '10.213.0.3' });
    });

    it('gives a pod that comes back its old address, and a new pod a new one', async () => {
      const { run } = fakeRunner();
      const network = value(await PodNetwork.create(options(run)));
      value(await network.addPod('a'));
      value(await network.addPod('b'));
      value(await network.removePod('a'));
      assert.equal(value(await network.addPod('c')).address, '10.213.0.4');
      assert.equal(value(await network.addPod('a')).address, '10.213.0.2');
    });

    it('counts past 255 within the subnet', async () => {
      const { run } = fakeRunner();
      const network = value(await PodNetwork.create(options(run)));
      let last = '';
      for (let i = 0; i < 255; i++) last = value(await network.addPod(`pod-${i}`)).address;
      assert.equal(last, '10.213.1.0');
    });

    it('refuses a pod that is on the network already, and one that finds no address left', async () => {
      const { run } = fakeRunner();
      const network = value(await PodNetwork.create(options(run, { subnet: '10.213.0.0/30' })));
      value(await network.addPod('a'));
      assert.deepEqual(await network.addPod('a'), err('the pod a is already on weft-br'));
      assert.deepEqual(await network.addPod('b'), err('no address left in 10.213.0.0/30 for the pod b'));
    });

    it('removes what it made when a step fails, and reports the command', async () => {
      const { run, commands } = fakeRunner({ links: ['weft-br', 'weft-v2'], namespaces: ['weft-a'], fails: (line) => line.includes('route add') });
      const network = value(await PodNetwork.create(options(run)));
      const added = await network.addPod('a');
      assert.ok(!added.ok);
      assert.match(added.error, /^`ip -n weft-a route add default via 10\.213\.0\.1` failed/);
      assert.deepEqual(commands.filter((c) => !c.startsWith('ip -j')).slice(-2), ['ip link del weft-v2', 'ip netns del weft-a']);
      assert.ok(!commands.includes('ip link del weft-br'));
    });

    it('refuses names that are not pod names', async () => {
      const network = value(await PodNetwork.create(options(fakeRunner().run)));
      await assert.rejects(network.addPod('a/b'), RangeError);
      await assert.rejects(network.addPod(''), RangeError);
    });
  });

  describe('removePod', () => {
    it('removes only that pod’s veth, namespace and /etc/netns directory', async () => {
      const { run, commands } = fakeRunner({ links: ['weft-br', 'weft-v2', 'weft-v3'], namespaces: ['weft-a', 'weft-b'] });
      const network = value(await PodNetwork.create(options(run)));
      const a = value(await network.addPod('a'));
      const b = value(await network.addPod('b'));
      value(await network.hostsFile(a.netns, []));
      value(await network.hostsFile(b.netns, []));
      commands.length = 0;
      value(await network.removePod('a'));
      assert.deepEqual(commands.filter((c) => !c.startsWith('ip -j')), ['ip link del weft-v2', 'ip netns del weft-a']);
      assert.equal(existsSync(join(dir, 'netns', 'weft-a')), false);
      assert.equal(existsSync(join(dir, 'netns', 'weft-b', 'hosts')), true);
      assert.deepEqual(await network.removePod('a'), ok(undefined));
    });
  });

  describe('cleanup', () => {
    it('removes every interface, namespace and directory of the prefix, the bridge last, and no other prefix’s', async () => {
      const { run, commands } = fakeRunner({
        links: ['lo', 'weft-br', 'weft-v2', 'weft2-br', 'weft2-v2', 'eth0'],
        namespaces: ['weft-a', 'weft2-a', 'other'],
        fails: (line) => line.startsWith('iptables') && commands.filter((c) => c.startsWith('iptables')).length > 2,
      });
      const netnsDir = join(dir, 'cleanup-netns');
      await mkdir(join(netnsDir, 'weft-a'), { recursive: true });
      await mkdir(join(netnsDir, 'weft2-a'), { recursive: true });
      value(await PodNetwork.cleanup('weft', { run, etcNetnsDir: netnsDir }));
      assert.deepEqual(commands.filter((c) => !c.startsWith('ip -j')), [
        'ip link del weft-v2',
        'ip link del weft-br',
        'ip netns del weft-a',
        // Deleted while there is one: twice here, then the third attempt finds none.
        'iptables -w 5 -D FORWARD -i weft-br -o weft-br -m comment --comment weft pod network weft -j ACCEPT',
        'iptables -w 5 -D FORWARD -i weft-br -o weft-br -m comment --comment weft pod network weft -j ACCEPT',
        'iptables -w 5 -D FORWARD -i weft-br -o weft-br -m comment --comment weft pod network weft -j ACCEPT',
      ]);
      assert.equal(existsSync(join(netnsDir, 'weft-a')), false);
      assert.equal(existsSync(join(netnsDir, 'weft2-a')), true);
    });

    it('reports deletions that fail, after trying all the others', async () => {
      const { run, commands } = fakeRunner({ links: ['weft-v2', 'weft-br'], namespaces: ['weft-a'], fails: (line) => line === 'ip link del weft-v2' });
      const cleaned = await PodNetwork.cleanup('weft', { run, etcNetnsDir: join(dir, 'none') });
      assert.ok(!cleaned.ok);
      assert.match(cleaned.error, /^`ip link del weft-v2` failed/);
      assert.ok(commands.includes('ip link del weft-br'));
      assert.ok(commands.includes('ip netns del weft-a'));
    });
  });

  describe('commandInPod', () => {
    it('runs the program through ip netns exec', () => {
      assert.deepEqual(PodNetwork.commandInPod('weft-a', 'node', ['app.js']), { command: 'ip', args: ['netns', 'exec', 'weft-a', 'node', 'app.js'] });
    });

    it('with a group, runs it with that group only, still as root', () => {
      assert.deepEqual(PodNetwork.commandInPod('weft-a', 'weft', ['proxy'], { gid: 1337 }), {
        command: 'ip',
        args: ['netns', 'exec', 'weft-a', 'setpriv', '--regid', '1337', '--clear-groups', '--', 'weft', 'proxy'],
      });
      assert.throws(() => PodNetwork.commandInPod('weft-a', 'weft', [], { gid: -1 }), RangeError);
    });
  });

  describe('hostsFile', () => {
    it('writes localhost and the entries to /etc/netns/<netns>/hosts, rewriting the same file', async () => {
      const network = value(await PodNetwork.create(options(fakeRunner().run)));
      const pod = value(await network.addPod('a'));
      value(await network.hostsFile(pod.netns, [{ address: '240.240.0.5', names: ['reviews', 'reviews.default', 'reviews.default.svc.cluster.local'] }, { address: '240.240.0.6', names: [] }]));
      const file = join(dir, 'netns', 'weft-a', 'hosts');
      assert.equal(await readFile(file, 'utf8'), '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n240.240.0.5\treviews reviews.default reviews.default.svc.cluster.local\n');
      const inode = (await stat(file)).ino;
      value(await network.hostsFile(pod.netns, [{ address: '240.240.0.7', names: ['ratings'] }]));
      assert.equal((await stat(file)).ino, inode);
      assert.match(await readFile(file, 'utf8'), /240\.240\.0\.7\tratings\n$/);
    });

    it('refuses a namespace that is not one of its pods’, and names that would break the file', async () => {
      const network = value(await PodNetwork.create(options(fakeRunner().run)));
      const pod = value(await network.addPod('a'));
      assert.deepEqual(await network.hostsFile('weft-b', []), err('no pod on weft-br has the namespace weft-b'));
      await assert.rejects(network.hostsFile(pod.netns, [{ address: '240.240.0.5', names: ['two words'] }]), RangeError);
    });
  });
});

const unavailable = await podNetworkingUnavailable();

describe('PodNetwork on this machine', { skip: unavailable ?? false }, () => {
  const prefix = testPrefix('pn');
  const leftoverPrefix = testPrefix('lo');
  let network: PodNetwork;
  const processes: PodProcess[] = [];

  before(async () => {
    await PodNetwork.cleanup(prefix);
    network = value(await PodNetwork.create({ prefix, subnet: testSubnet(0) }));
  });

  after(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    await network?.close();
    await PodNetwork.cleanup(leftoverPrefix);
  });

  async function links(): Promise<string[]> {
    const listed = value(await runCommand('ip', ['-j', 'link', 'show']));
    return (JSON.parse(listed) as { ifname: string }[]).map((l) => l.ifname);
  }

  async function namespaces(): Promise<string[]> {
    const listed = value(await runCommand('ip', ['-j', 'netns', 'list'])).trim();
    return listed === '' ? [] : (JSON.parse(listed) as { name: string }[]).map((n) => n.name);
  }

  it('lets pods reach each other and the host reach them over the bridge', async () => {
    const a = value(await network.addPod('a'));
    const b = value(await network.addPod('b'));
    const server = startNodeInPod(a.netns, "require('node:net').createServer((s) => s.end(JSON.stringify({ listener: 7000 }))).listen(7000, () => console.log('ready'))", []);
    processes.push(server);
    await server.waitForLine((line) => line === 'ready');
    assert.deepEqual(parseAnswer(await runNodeInPod(b.netns, CLIENT_SCRIPT, [a.address, '7000'])), { listener: 7000 });
    assert.deepEqual(await askFromHost(a.address, 7000), { listener: 7000 });
    if (existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) {
      assert.match(value(await runCommand('iptables', ['-w', '5', '-S', 'FORWARD'])), new RegExp(`-A FORWARD -i ${prefix}-br -o ${prefix}-br .*-j ACCEPT`));
    }
  });

  it('runs a program in a pod as root with only the group it is given', async () => {
    const pod = value(await network.addPod('ids'));
    const id = async (flag: string, gid?: number) => {
      const argv = PodNetwork.commandInPod(pod.netns, 'id', [flag], gid !== undefined ? { gid } : {});
      return value(await runCommand(argv.command, argv.args)).trim();
    };
    assert.equal(await id('-u', 1337), '0');
    assert.equal(await id('-g', 1337), '1337');
    assert.equal(await id('-G', 1337), '1337');
    assert.equal(await id('-g'), '0');
    const argv = PodNetwork.commandInPod(pod.netns, 'ip', ['-j', '-4', 'addr', 'show', 'eth0']);
    assert.match(value(await runCommand(argv.command, argv.args)), new RegExp(`"local":"${pod.address.replaceAll('.', '\\.')}"`));
  });

  it('resolves names from the pod’s hosts file, in processes that started before it changed too', async () => {
    const pod = value(await network.addPod('dns'));
    value(await network.hostsFile(pod.netns, [{ address: '240.240.0.5', names: ['reviews', 'reviews.default.svc.cluster.local'] }]));
    // IPv4 only: an IPv6 lookup finds nothing in the file and asks the host's DNS server, which pods cannot reach.
    const argv = PodNetwork.commandInPod(pod.netns, 'getent', ['ahostsv4', 'reviews']);
    assert.match(value(await runCommand(argv.command, argv.args)), /^240\.240\.0\.5\s+STREAM reviews\n/);

    const lookups = startNodeInPod(pod.netns, LOOKUP_SCRIPT, []);
    processes.push(lookups);
    await lookups.waitForLine((line) => line === 'ready');
    lookups.write('reviews.default.svc.cluster.local');
    assert.deepEqual(JSON.parse(await lookups.waitForLine((line) => line.includes('"reviews.default.svc.cluster.local"'))), { name: 'reviews.default.svc.cluster.local', address: '240.240.0.5' });
    value(await network.hostsFile(pod.netns, [{ address: '240.240.0.6', names: ['ratings'] }]));
    lookups.write('ratings');
    assert.deepEqual(JSON.parse(await lookups.waitForLine((line) => line.includes('"ratings"'))), { name: 'ratings', address: '240.240.0.6' });
  });

  it('leaves nothing of a removed pod behind, and can add it again', async () => {
    const pod = value(await network.addPod('gone'));
    value(await network.hostsFile(pod.netns, []));
    const vethsBefore = (await links()).filter((l) => l.startsWith(`${prefix}-v`));
    value(await network.removePod('gone'));
    assert.ok(!(await namespaces()).includes(pod.netns));
    assert.equal((await links()).filter((l) => l.startsWith(`${prefix}-v`)).length, vethsBefore.length - 1);
    assert.equal(existsSync(`/etc/netns/${pod.netns}`), false);
    assert.deepEqual(value(await network.addPod('gone')), pod);
  });

  it('cleans up what a run that never closed its network left behind', async () => {
    const crashed = value(await PodNetwork.create({ prefix: leftoverPrefix, subnet: testSubnet(1) }));
    const pod = value(await crashed.addPod('a'));
    value(await crashed.hostsFile(pod.netns, []));
    value(await PodNetwork.cleanup(leftoverPrefix));
    assert.deepEqual((await links()).filter((l) => l.startsWith(`${leftoverPrefix}-`)), []);
    assert.deepEqual((await namespaces()).filter((n) => n.startsWith(`${leftoverPrefix}-`)), []);
    assert.equal(existsSync(`/etc/netns/${pod.netns}`), false);
    const forward = await runCommand('iptables', ['-w', '5', '-S', 'FORWARD']);
    if (forward.ok) assert.doesNotMatch(forward.value, new RegExp(`${leftoverPrefix}-br`));
    assert.ok((await links()).includes(`${prefix}-br`), 'another prefix’s network is left alone');
  });
});
