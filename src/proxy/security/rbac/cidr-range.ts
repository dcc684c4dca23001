import { BlockList, isIP } from 'node:net';
import type { Problems } from '../../route/problems.ts';
import { checkFields, fieldPath, integer, message, string } from './raw-json.ts';

/** `::ffff:10.0.0.1` as `10.0.0.1`, so that an IPv4 range matches a dual-stack socket's peer. */
function unmapped(address: string): string {
  return address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
}

/**
 * An `envoy.config.core.v3.CidrRange`: whether an address lies in `addressPrefix/prefixLen`
 * (prefixLen 0 when unset: the whole family). As in Envoy, an IPv4 range never matches an IPv6
 * address nor the reverse; an IPv4-mapped IPv6 address counts as IPv4.
 */
export function parseCidrRange(raw: unknown, at: string, problems: Problems): ((address: string) => boolean) | undefined {
  const range = message(raw, 'CidrRange', at, problems);
  if (range === undefined) return undefined;
  checkFields(range, ['addressPrefix', 'prefixLen'], 'CidrRange', at, problems);
  const address = string(range['addressPrefix'] ?? '', fieldPath(at, 'addressPrefix'), problems);
  if (address === undefined) return undefined;
  const version = isIP(address);
  if (version === 0) {
    problems.add(fieldPath(at, 'addressPrefix'), `${JSON.stringify(address)} is not an IP address`);
    return undefined;
  }
  const length = integer(range['prefixLen'] ?? 0, 0, version === 4 ? 32 : 128, fieldPath(at, 'prefixLen'), problems);
  if (length === undefined) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const list = new BlockList();
  list.addSubnet(address, length, family);
  return (candidate) => {
    const plain = unmapped(candidate);
    return isIP(plain) === version && list.check(plain, family);
  };
}
