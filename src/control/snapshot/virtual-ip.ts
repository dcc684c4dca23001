/**
 * Virtual IPs for services that have none, from 240.240.0.0/16 as Istio's auto-allocation does:
 * each hostname hashes (FNV-1a) to a slot, collisions take the next free slot, and hostnames are
 * placed in sorted order, so the same set of hostnames always gets the same addresses whatever
 * order they came in. `.0` and `.255` host parts are never used.
 */

const HOSTS_PER_BLOCK = 254;
const SLOTS = 256 * HOSTS_PER_BLOCK;

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

function slotAddress(slot: number): string {
  return `240.240.${Math.floor(slot / HOSTS_PER_BLOCK)}.${(slot % HOSTS_PER_BLOCK) + 1}`;
}

function addressSlot(address: string): number | undefined {
  const match = /^240\.240\.(\d{1,3})\.(\d{1,3})$/.exec(address);
  if (match === null) return undefined;
  const block = Number(match[1]);
  const host = Number(match[2]);
  return block <= 255 && host >= 1 && host <= HOSTS_PER_BLOCK ? block * HOSTS_PER_BLOCK + host - 1 : undefined;
}

/** An address for each hostname, avoiding those in `taken` (addresses other services already have). */
export function allocateVirtualIps(hostnames: Iterable<string>, taken: ReadonlySet<string>): ReadonlyMap<string, string> {
  const used = new Set<number>();
  for (const address of taken) {
    const slot = addressSlot(address);
    if (slot !== undefined) used.add(slot);
  }
  const out = new Map<string, string>();
  for (const hostname of [...new Set(hostnames)].sort()) {
    if (used.size >= SLOTS) break;
    let slot = fnv1a(hostname) % SLOTS;
    while (used.has(slot)) slot = (slot + 1) % SLOTS;
    used.add(slot);
    out.set(hostname, slotAddress(slot));
  }
  return out;
}
