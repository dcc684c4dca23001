import { ok, type Result } from '../../core/index.ts';
import { runCommand, type CommandRunner } from './run-command.ts';

export interface CaptureOptions {
  /** The sidecar's group: its own traffic is not captured. 1337 unless set, as Istio's. */
  readonly proxyGid?: number;
  /** Where outbound TCP goes: the sidecar's virtualOutbound listener; 15001 unless set. */
  readonly outboundCapturePort?: number;
  /** Where inbound TCP goes: the sidecar's virtualInbound listener; 15006 unless set. */
  readonly inboundCapturePort?: number;
  /** Inbound ports left alone: the sidecar's own (HBONE, stats, health, agent, admin) unless set. */
  readonly excludeInboundPorts?: readonly number[];
  /** Destinations outbound traffic reaches directly (`10.213.0.1/32`: the control plane on the host). */
  readonly excludeOutboundCidrs?: readonly string[];
}

/** Istio's default proxy ports that inbound capture skips: 15008 HBONE, 15090 stats, 15021 health, 15020 agent, 15000 admin. */
export const DEFAULT_EXCLUDED_INBOUND_PORTS: readonly number[] = [15008, 15090, 15021, 15020, 15000];

/**
 * The nat table of a pod that captures its TCP as `istio-iptables -m REDIRECT` does, as
 * `iptables-restore` input (a whole table: restored without --noflush it replaces the pod's nat
 * table, so applying it again changes nothing). Only the group is matched: the sidecar runs as root
 * with group 1337, and a uid match on root would let the app through too.
 *
 * Inbound: PREROUTING sends TCP to ISTIO_INBOUND, which returns for the excluded ports and sends
 * the rest to ISTIO_IN_REDIRECT, which redirects to the inbound capture port.
 *
 * Outbound: OUTPUT sends TCP to ISTIO_OUTPUT, whose rules, in Istio's order, are:
 *  1. from 127.0.0.6 over lo: RETURN. The sidecar's inbound passthrough binds that source to reach
 *     the app on the pod's IP; rule 2 would send it back to the sidecar.
 *  2. the sidecar over lo to a destination other than 127.0.0.1: ISTIO_IN_REDIRECT. The app called a
 *     service whose endpoint is this pod; the sidecar's outbound side connects to the pod's own IP,
 *     and that connection goes through the sidecar's inbound side (policy, telemetry) like any other.
 *  3. anyone else over lo: RETURN. The app calls itself by the pod IP or localhost, directly.
 *  4. the sidecar otherwise: RETURN. Its own upstream connections must not loop back to it.
 *  5. to 127.0.0.1: RETURN. Sidecar-aware apps and containers of the pod talk over localhost.
 *  6. to an excluded CIDR: RETURN.
 *  7. everything else: ISTIO_REDIRECT, which redirects to the outbound capture port.
 */
export function captureRules(options: CaptureOptions = {}): string {
  const gid = checkedNumber(options.proxyGid ?? 1337, 0, 2 ** 32 - 2, 'proxyGid');
  const outboundPort = checkedNumber(options.outboundCapturePort ?? 15001, 1, 65535, 'outboundCapturePort');
  const inboundPort = checkedNumber(options.inboundCapturePort ?? 15006, 1, 65535, 'inboundCapturePort');
  const excludedPorts = (options.excludeInboundPorts ?? DEFAULT_EXCLUDED_INBOUND_PORTS).map((port) => checkedNumber(port, 1, 65535, 'excludeInboundPorts'));
  const excludedCidrs = (options.excludeOutboundCidrs ?? []).map(checkedCidr);

  return [
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
    ...excludedPorts.map((port) => `-A ISTIO_INBOUND -p tcp --dport ${port} -j RETURN`),
    '-A ISTIO_INBOUND -p tcp -j ISTIO_IN_REDIRECT',
    `-A ISTIO_IN_REDIRECT -p tcp -j REDIRECT --to-ports ${inboundPort}`,
    '-A OUTPUT -p tcp -j ISTIO_OUTPUT',
    '-A ISTIO_OUTPUT -s 127.0.0.6/32 -o lo -j RETURN',
    `-A ISTIO_OUTPUT ! -d 127.0.0.1/32 -o lo -m owner --gid-owner ${gid} -j ISTIO_IN_REDIRECT`,
    `-A ISTIO_OUTPUT -o lo -m owner ! --gid-owner ${gid} -j RETURN`,
    `-A ISTIO_OUTPUT -m owner --gid-owner ${gid} -j RETURN`,
    '-A ISTIO_OUTPUT -d 127.0.0.1/32 -j RETURN',
    ...excludedCidrs.map((cidr) => `-A ISTIO_OUTPUT -d ${cidr} -j RETURN`),
    '-A ISTIO_OUTPUT -j ISTIO_REDIRECT',
    `-A ISTIO_REDIRECT -p tcp -j REDIRECT --to-ports ${outboundPort}`,
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * Restores the rules in a pod's namespace (`ip netns exec <netns> iptables-restore`), replacing its
 * nat table. `iptablesRestore` picks the backend (`iptables-nft-restore`, `iptables-legacy-restore`);
 * either works in a pod's own namespace. The system's `iptables-restore` unless set.
 */
export function applyCaptureRules(netns: string, rules: string, options: { readonly iptablesRestore?: string; readonly run?: CommandRunner } = {}): Promise<Result<void, string>> {
  const run = options.run ?? runCommand;
  return run('ip', ['netns', 'exec', netns, options.iptablesRestore ?? 'iptables-restore', '-w', '5'], rules).then((done) => (done.ok ? ok(undefined) : done));
}

function checkedNumber(value: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${what}: ${value} is not an integer from ${min} to ${max}`);
  return value;
}

function checkedCidr(cidr: string): string {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?:\/(\d{1,2}))?$/.exec(cidr);
  if (match === null || match.slice(1, 5).some((octet) => Number(octet) > 255) || (match[5] !== undefined && Number(match[5]) > 32)) {
    throw new RangeError(`excludeOutboundCidrs: ${JSON.stringify(cidr)} is not an IPv4 address or CIDR`);
  }
  return match[5] === undefined ? `${cidr}/32` : cidr;
}
