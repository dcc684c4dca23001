import { readFile, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { err, ok, type Result } from '../../core/index.ts';
import { runCommand, type CommandRunner } from './run-command.ts';

export interface PodNetworkOptions {
  /**
   * Starts the name of every bridge, veth and network namespace the network makes (`weft-br`,
   * `weft-v2`, `weft-reviews-v1-0`): a lowercase letter, then lowercase letters or digits, 9 at most,
   * so that interface names stay within Linux's 15 characters.
   */
  readonly prefix: string;
  /** The bridge's IPv4 subnet (`10.213.0.0/16`): the host side takes its first address, pods the next ones. */
  readonly subnet: string;
  readonly run?: CommandRunner;
  /** The host's iptables, for the FORWARD rule that lets bridged traffic through; `iptables` unless set. */
  readonly iptables?: string;
  /** Where `ip netns exec` finds a namespace's own /etc files; `/etc/netns` unless set. */
  readonly etcNetnsDir?: string;
  /** Where br_netfilter's switches are; `/proc/sys/net/bridge` unless set. */
  readonly bridgeSysctlDir?: string;
}

/** A pod's place on the network: its namespace (for `ip netns exec`) and its IP on the bridge. */
export interface Pod {
  readonly netns: string;
  readonly address: string;
}

/** A line of a pod's hosts file: the address the names resolve to. */
export interface HostsEntry {
  readonly address: string;
  readonly names: readonly string[];
}

const PREFIX = /^[a-z][a-z0-9]{0,8}$/;
const POD_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const MAX_INTERFACE_NAME = 15;

interface Settings {
  readonly prefix: string;
  readonly run: CommandRunner;
  readonly iptables: string;
  readonly etcNetnsDir: string;
  readonly bridgeSysctlDir: string;
}

/**
 * One Linux bridge and the pods on it, as a Kubernetes node's CNI bridge gives them: each pod is a
 * network namespace with an `eth0` (one end of a veth pair whose other end is on the bridge), an
 * address of the subnet, `lo` up and a default route via the bridge's address, which is the host's
 * address on the subnet. Pods reach each other and the host; nothing is routed beyond (no
 * forwarding, no masquerading).
 *
 * Every name starts with the prefix, so that `PodNetwork.cleanup(prefix)` finds what a crashed run
 * left behind. Everything runs `ip`/`iptables` (as root), and a command that fails is an error value
 * naming the command and its stderr.
 */
export class PodNetwork {
  /** The bridge interface (`weft-br`). */
  readonly bridge: string;
  /** The host's address on the bridge (`10.213.0.1`): the pods' default gateway, and where the host's services are reached. */
  readonly hostAddress: string;
  readonly prefixLength: number;
  readonly #settings: Settings;
  readonly #base: number;
  readonly #lastOffset: number;
  /** A pod keeps its address when it is removed and added again; a new pod never takes an old pod's address. */
  readonly #offsets = new Map<string, number>();
  readonly #pods = new Map<string, Pod>();
  #nextOffset = 2;

  private constructor(settings: Settings, subnet: string) {
    const { base, prefixLength } = parseSubnet(subnet);
    this.#settings = settings;
    this.#base = base;
    this.prefixLength = prefixLength;
    this.#lastOffset = 2 ** (32 - prefixLength) - 2;
    this.bridge = `${settings.prefix}-br`;
    this.hostAddress = formatIpv4(base + 1);
    const longestVeth = vethName(settings.prefix, this.#lastOffset);
    if (longestVeth.length > MAX_INTERFACE_NAME) throw new RangeError(`the subnet ${subnet} has too many addresses for the prefix ${settings.prefix}: ${longestVeth} is longer than ${MAX_INTERFACE_NAME}`);
  }

  /**
   * Makes the bridge with the subnet's first address and brings it up. When br_netfilter passes
   * bridged frames through iptables, it also inserts a FORWARD rule that accepts them, since a
   * FORWARD policy of DROP (Docker sets one) would cut pods off from each other. Fails when the
   * bridge exists already: another run owns it, or a crashed one left it (see `cleanup`).
   */
  static async create(options: PodNetworkOptions): Promise<Result<PodNetwork, string>> {
    const settings = settingsOf(options.prefix, options);
    const network = new PodNetwork(settings, options.subnet);
    const { run } = settings;
    const added = await run('ip', ['link', 'add', network.bridge, 'type', 'bridge']);
    if (!added.ok) return err(`${added.error} (if a previous run left it behind, PodNetwork.cleanup('${settings.prefix}') removes it)`);
    const steps: (readonly [string, readonly string[]])[] = [
      ['ip', ['addr', 'add', `${network.hostAddress}/${network.prefixLength}`, 'dev', network.bridge]],
      ['ip', ['link', 'set', network.bridge, 'up']],
    ];
    if (await bridgedFramesSeeIptables(settings.bridgeSysctlDir)) steps.push([settings.iptables, ['-w', '5', '-I', 'FORWARD', ...forwardRule(settings.prefix)]]);
    for (const [command, args] of steps) {
      const done = await run(command, args);
      if (done.ok) continue;
      await removeMatching(settings, everything(settings.prefix));
      return err(done.error);
    }
    return ok(network);
  }

  /**
   * Removes every namespace, interface, FORWARD rule and /etc/netns directory whose name starts with
   * `<prefix>-`: a closed network's, or what a crashed run left. Missing pieces are no error.
   */
  static cleanup(prefix: string, options: Omit<PodNetworkOptions, 'prefix' | 'subnet'> = {}): Promise<Result<void, string>> {
    return removeMatching(settingsOf(prefix, options), everything(prefix));
  }

  /**
   * The argv that runs a program inside a pod's namespace (`ip netns exec`, which also bind-mounts
   * the namespace's /etc/netns files, such as its hosts file, over /etc). With `gid`, the program
   * runs with that real and effective group and no supplementary ones, still as root: that is how
   * the sidecar runs, so that the capture rules' owner match (`--gid-owner`) lets its traffic through
   * while it can still read what root can.
   */
  static commandInPod(netns: string, command: string, args: readonly string[], options: { readonly gid?: number } = {}): { command: string; args: string[] } {
    const gid = options.gid;
    if (gid !== undefined && (!Number.isInteger(gid) || gid < 0)) throw new RangeError(`${gid} is not a group id`);
    const setpriv = gid === undefined ? [] : ['setpriv', '--regid', String(gid), '--clear-groups', '--'];
    return { command: 'ip', args: ['netns', 'exec', netns, ...setpriv, command, ...args] };
  }

  /**
   * Adds a pod: its namespace `<prefix>-<podName>`, a veth pair (`<prefix>-v<n>` on the bridge,
   * `eth0` in the pod), the next address of the subnet (the one it had, if it was on the network
   * before), `lo` up and the default route via the host. A pod that is already on the network, or a
   * full subnet, is an error; so is a failed command, after what it made is removed again.
   */
  async addPod(podName: string): Promise<Result<Pod, string>> {
    if (!POD_NAME.test(podName)) throw new RangeError(`${JSON.stringify(podName)} is not a pod name`);
    if (this.#pods.has(podName)) return err(`the pod ${podName} is already on ${this.bridge}`);
    const known = this.#offsets.get(podName);
    const offset = known ?? this.#nextOffset;
    if (offset > this.#lastOffset) return err(`no address left in ${formatIpv4(this.#base)}/${this.prefixLength} for the pod ${podName}`);
    if (known === undefined) {
      this.#nextOffset++;
      this.#offsets.set(podName, offset);
    }
    const pod: Pod = { netns: `${this.#settings.prefix}-${podName}`, address: formatIpv4(this.#base + offset) };
    this.#pods.set(podName, pod);
    const veth = vethName(this.#settings.prefix, offset);
    const steps: (readonly string[])[] = [
      ['netns', 'add', pod.netns],
      ['link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', pod.netns],
      ['link', 'set', veth, 'master', this.bridge],
      ['link', 'set', veth, 'up'],
      ['-n', pod.netns, 'addr', 'add', `${pod.address}/${this.prefixLength}`, 'dev', 'eth0'],
      ['-n', pod.netns, 'link', 'set', 'eth0', 'up'],
      ['-n', pod.netns, 'link', 'set', 'lo', 'up'],
      ['-n', pod.netns, 'route', 'add', 'default', 'via', this.hostAddress],
    ];
    for (const args of steps) {
      const done = await this.#settings.run('ip', args);
      if (done.ok) continue;
      this.#pods.delete(podName);
      await removeMatching(this.#settings, onePod(pod.netns, veth));
      return err(done.error);
    }
    return ok(pod);
  }

  /**
   * Removes a pod's veth pair, namespace and /etc/netns directory; a pod that is not on the network
   * is no error. Processes still running in the namespace keep it alive, without a network: stop
   * them first.
   */
  async removePod(podName: string): Promise<Result<void, string>> {
    const pod = this.#pods.get(podName);
    if (pod === undefined) return ok(undefined);
    this.#pods.delete(podName);
    const veth = vethName(this.#settings.prefix, this.#offsets.get(podName)!);
    return removeMatching(this.#settings, onePod(pod.netns, veth));
  }

  /**
   * Writes the pod's `/etc/netns/<netns>/hosts`, which `ip netns exec` binds over /etc/hosts for
   * what it starts: localhost, then each entry's address and names. The file is rewritten in place,
   * because the bind mount holds on to the file itself: running processes see the new entries.
   */
  async hostsFile(netns: string, entries: readonly HostsEntry[]): Promise<Result<void, string>> {
    if (![...this.#pods.values()].some((pod) => pod.netns === netns)) return err(`no pod on ${this.bridge} has the namespace ${netns}`);
    const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback'];
    for (const entry of entries) {
      if (entry.names.length === 0) continue;
      if (/\s/.test(entry.address) || entry.names.some((name) => name === '' || /[\s#]/.test(name))) throw new RangeError(`${JSON.stringify(entry)} is not a hosts file entry`);
      lines.push(`${entry.address}\t${entry.names.join(' ')}`);
    }
    const dir = join(this.#settings.etcNetnsDir, netns);
    try {
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'hosts'), `${lines.join('\n')}\n`, { mode: 0o644 });
      return ok(undefined);
    } catch (error) {
      return err(`cannot write ${join(dir, 'hosts')}: ${(error as Error).message}`);
    }
  }

  /** Removes every pod, the bridge and the FORWARD rule: `cleanup` of the prefix. Safe to call again. */
  close(): Promise<Result<void, string>> {
    this.#pods.clear();
    return removeMatching(this.#settings, everything(this.#settings.prefix));
  }
}

function settingsOf(prefix: string, options: Omit<PodNetworkOptions, 'prefix' | 'subnet'>): Settings {
  if (!PREFIX.test(prefix)) throw new RangeError(`the prefix ${JSON.stringify(prefix)} is not a lowercase letter and up to 8 lowercase letters or digits`);
  return {
    prefix,
    run: options.run ?? runCommand,
    iptables: options.iptables ?? 'iptables',
    etcNetnsDir: options.etcNetnsDir ?? '/etc/netns',
    bridgeSysctlDir: options.bridgeSysctlDir ?? '/proc/sys/net/bridge',
  };
}

/** `<prefix>-v<n>`, n in base 36 to stay short. */
function vethName(prefix: string, offset: number): string {
  return `${prefix}-v${offset.toString(36)}`;
}

/** The FORWARD rule that accepts frames bridged between the network's ports, tagged with the prefix to find it again. */
function forwardRule(prefix: string): string[] {
  return ['-i', `${prefix}-br`, '-o', `${prefix}-br`, '-m', 'comment', '--comment', `weft pod network ${prefix}`, '-j', 'ACCEPT'];
}

/** Whether br_netfilter is loaded and hands bridged IPv4 frames to iptables (its files exist only when it is loaded). */
async function bridgedFramesSeeIptables(sysctlDir: string): Promise<boolean> {
  try {
    return (await readFile(join(sysctlDir, 'bridge-nf-call-iptables'), 'utf8')).trim() === '1';
  } catch {
    return false;
  }
}

/** What to remove: interfaces and namespaces (with their /etc/netns directories) by name, and whether the FORWARD rule goes too. */
interface Doomed {
  readonly link: (name: string) => boolean;
  readonly netns: (name: string) => boolean;
  readonly forwardRule: boolean;
}

function everything(prefix: string): Doomed {
  const ours = (name: string) => name.startsWith(`${prefix}-`);
  return { link: ours, netns: ours, forwardRule: true };
}

function onePod(netns: string, veth: string): Doomed {
  return { link: (name) => name === veth, netns: (name) => name === netns, forwardRule: false };
}

/**
 * Deletes the doomed interfaces (a veth's peer in its pod goes with it; the bridge last), then
 * namespaces, /etc/netns directories and the FORWARD rule. Carries on past failures and reports
 * them all; what is not there is no failure.
 */
async function removeMatching(settings: Settings, doomed: Doomed): Promise<Result<void, string>> {
  const { run } = settings;
  const errors: string[] = [];
  const bridge = `${settings.prefix}-br`;
  const links = await listNames(run, ['-j', 'link', 'show'], 'ifname');
  if (!links.ok) errors.push(links.error);
  const doomedLinks = (links.ok ? links.value : []).filter(doomed.link).sort((a, b) => Number(a === bridge) - Number(b === bridge));
  for (const link of doomedLinks) {
    const done = await run('ip', ['link', 'del', link]);
    if (!done.ok) errors.push(done.error);
  }
  const namespaces = await listNames(run, ['-j', 'netns', 'list'], 'name');
  if (!namespaces.ok) errors.push(namespaces.error);
  for (const netns of (namespaces.ok ? namespaces.value : []).filter(doomed.netns)) {
    const done = await run('ip', ['netns', 'del', netns]);
    if (!done.ok) errors.push(done.error);
  }
  try {
    for (const dir of await readdir(settings.etcNetnsDir)) {
      if (doomed.netns(dir)) await rm(join(settings.etcNetnsDir, dir), { recursive: true, force: true });
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') errors.push(`cannot clean ${settings.etcNetnsDir}: ${(error as Error).message}`);
  }
  if (doomed.forwardRule) {
    // Deleted until none is left (a crashed run may have inserted it more than once), boundedly; none at all is fine.
    for (let i = 0; i < 16; i++) {
      const deleted = await run(settings.iptables, ['-w', '5', '-D', 'FORWARD', ...forwardRule(settings.prefix)]);
      if (!deleted.ok) break;
    }
  }
  return errors.length === 0 ? ok(undefined) : err(errors.join('; '));
}

/** The names `ip -j ... show/list` prints (an older `ip` prints nothing at all for no namespaces). */
async function listNames(run: CommandRunner, args: readonly string[], field: string): Promise<Result<string[], string>> {
  const listed = await run('ip', args);
  if (!listed.ok) return listed;
  const text = listed.value.trim();
  if (text === '') return ok([]);
  try {
    const entries = JSON.parse(text) as unknown;
    if (!Array.isArray(entries)) return err(`\`ip ${args.join(' ')}\` printed no list: ${text.slice(0, 200)}`);
    return ok(entries.map((entry) => (entry as Record<string, unknown>)[field]).filter((name): name is string => typeof name === 'string'));
  } catch {
    return err(`\`ip ${args.join(' ')}\` printed no JSON: ${text.slice(0, 200)}`);
  }
}

function parseSubnet(subnet: string): { base: number; prefixLength: number } {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(subnet);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const prefixLength = Number(match?.[5]);
  if (match === null || octets.some((o) => o > 255) || prefixLength < 8 || prefixLength > 30) {
    throw new RangeError(`${JSON.stringify(subnet)} is not an IPv4 subnet from /8 to /30`);
  }
  const address = octets.reduce((n, o) => n * 256 + o, 0);
  const size = 2 ** (32 - prefixLength);
  if (address % size !== 0) throw new RangeError(`${subnet} has host bits set: the subnet is ${formatIpv4(address - (address % size))}/${prefixLength}`);
  return { base: address, prefixLength };
}

function formatIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}
