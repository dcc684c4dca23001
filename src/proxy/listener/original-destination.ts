import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { err, ok, type Result } from '../../core/index.ts';

/** An IP address (IPv4-mapped IPv6 addresses unwrapped to IPv4) and a port. */
export interface Destination {
  readonly address: string;
  readonly port: number;
}

/**
 * Where an accepted connection was going before iptables redirected it to the proxy; for a
 * connection that was not redirected, the address it was accepted on.
 */
export type OriginalDestination = (socket: Socket) => Destination;

/** The address and port the socket was accepted on: right for connections that were not redirected. */
export const localAddressDestination: OriginalDestination = (socket) => ({
  address: unmapIpv4(socket.localAddress ?? ''),
  port: socket.localPort ?? 0,
});

/** Where `scripts/build-native.sh` puts the addon. */
export const ORIGINAL_DST_ADDON_PATH = fileURLToPath(new URL('../../../native/original-dst/build/Release/original_dst.node', import.meta.url));

interface OriginalDstAddon {
  /** The destination, or the errno of getsockopt (ENOENT: the connection was not redirected). */
  originalDestination(fd: number): { address: string; port: number } | number;
}

/**
 * SO_ORIGINAL_DST through the native addon (`native/original-dst`), which reads the destination
 * conntrack recorded before iptables REDIRECT rewrote it. Fails (a value, not a throw) when the
 * addon is not built or cannot load here; the caller then uses `localAddressDestination`. The
 * returned lookup itself falls back to the local address for connections that were not
 * redirected, or whose socket has no file descriptor.
 */
export function loadOriginalDestination(addonPath: string = ORIGINAL_DST_ADDON_PATH): Result<OriginalDestination, string> {
  let addon: OriginalDstAddon;
  try {
    addon = createRequire(import.meta.url)(addonPath) as OriginalDstAddon;
  } catch (error) {
    return err(`the original-dst addon did not load from ${addonPath} (build it with scripts/build-native.sh): ${(error as Error).message}`);
  }
  if (typeof addon.originalDestination !== 'function') return err(`${addonPath} is not the original-dst addon`);
  return ok((socket) => {
    const fd = socketFd(socket);
    if (fd === undefined) return localAddressDestination(socket);
    const found = addon.originalDestination(fd);
    if (typeof found === 'number') return localAddressDestination(socket);
    return { address: unmapIpv4(found.address), port: found.port };
  });
}

/** The file descriptor of a TCP socket's libuv handle (absent for sockets not backed by one). */
function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`: a dual-stack socket reports IPv4 peers this way. */
export function unmapIpv4(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
