/**
 * Reading a 64-bit request hash without BigInt arithmetic, which allocates on every operation: the
 * hash is written into a 64-bit typed array and read back as two 32-bit halves.
 */
const wide = new BigUint64Array(1);
const halves = new Uint32Array(wide.buffer);
const LOW = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;
const HIGH = 1 - LOW;
const TWO_32 = 0x100000000;

export function high32(hash: bigint): number {
  wide[0] = hash;
  return halves[HIGH]!;
}

export function low32(hash: bigint): number {
  wide[0] = hash;
  return halves[LOW]!;
}

/** hash mod m, for m up to 2^26 (exact: every intermediate stays below 2^53). */
export function hashModulo(hash: bigint, m: number): number {
  wide[0] = hash;
  return (((halves[HIGH]! % m) * (TWO_32 % m)) + halves[LOW]!) % m;
}
