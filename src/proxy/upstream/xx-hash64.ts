/**
 * xxHash64 (Yann Collet's XXH64), the hash Envoy uses for hash policies, ring hash and maglev, so
 * that a request hashes, and a ring is built, exactly as Envoy would. 64-bit arithmetic is done on
 * pairs of 32-bit halves, which keeps the per-request path free of BigInt work.
 */

const P1_HI = 0x9e3779b1, P1_LO = 0x85ebca87;
const P2_HI = 0xc2b2ae3d, P2_LO = 0x27d4eb4f;
const P3_HI = 0x165667b1, P3_LO = 0x9e3779f9;
const P4_HI = 0x85ebca77, P4_LO = 0xc2b2ae63;
const P5_HI = 0x27d4eb2f, P5_LO = 0x165667c5;

/** A 64-bit unsigned value as two unsigned 32-bit halves, changed in place. */
class U64 {
  hi = 0;
  lo = 0;

  set(hi: number, lo: number): this {
    this.hi = hi >>> 0;
    this.lo = lo >>> 0;
    return this;
  }

  add(hi: number, lo: number): this {
    const low = this.lo + (lo >>> 0);
    this.lo = low >>> 0;
    this.hi = (this.hi + hi + (low > 0xffffffff ? 1 : 0)) >>> 0;
    return this;
  }

  sub(hi: number, lo: number): this {
    // Adds the two's complement.
    const nlo = (~lo + 1) >>> 0;
    const nhi = (~hi + (nlo === 0 ? 1 : 0)) >>> 0;
    return this.add(nhi, nlo);
  }

  /** The low 64 bits of the product: the low halves' full product (from 16-bit limbs) plus the cross terms' low 32 bits. */
  mul(hi: number, lo: number): this {
    const al = this.lo, a0 = al & 0xffff, a1 = al >>> 16;
    const b0 = lo & 0xffff, b1 = lo >>> 16;
    const low = a0 * b0;
    const middle = a1 * b0 + (low >>> 16);
    const carry = (a0 * b1 + (middle & 0xffff)) >>> 16;
    const high = a1 * b1 + (middle >>> 16) + carry;
    this.hi = (high + Math.imul(this.hi, lo) + Math.imul(al, hi)) >>> 0;
    this.lo = Math.imul(al, lo) >>> 0;
    return this;
  }

  /** Rotates left by 1..31 bits. */
  rotl(bits: number): this {
    const hi = this.hi, lo = this.lo;
    this.hi = ((hi << bits) | (lo >>> (32 - bits))) >>> 0;
    this.lo = ((lo << bits) | (hi >>> (32 - bits))) >>> 0;
    return this;
  }

  xor(hi: number, lo: number): this {
    this.hi = (this.hi ^ hi) >>> 0;
    this.lo = (this.lo ^ lo) >>> 0;
    return this;
  }

  /** this ^= this >>> bits, for 29..33 bits (the avalanche's shifts). */
  xorShiftRight(bits: number): this {
    if (bits >= 32) return this.xor(0, this.hi >>> (bits - 32));
    return this.xor(this.hi >>> bits, ((this.lo >>> bits) | (this.hi << (32 - bits))) >>> 0);
  }
}

// Scratch registers: hashing allocates nothing but the result.
const acc = new U64();
const v1 = new U64(), v2 = new U64(), v3 = new U64(), v4 = new U64();
const lane = new U64();
const product = new U64();
const encoder = new TextEncoder();
// The result is assembled in a typed array: building it with BigInt shifts would allocate four times.
const result = new BigUint64Array(1);
const resultHalves = new Uint32Array(result.buffer);
const LOW_HALF = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1 ? 0 : 1;
let scratch = new Uint8Array(256);

function u32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** acc = rotl(acc + input * P2, 31) * P1: one XXH64 round on a 64-bit lane. */
function round(v: U64, hi: number, lo: number): void {
  product.set(hi, lo).mul(P2_HI, P2_LO);
  v.add(product.hi, product.lo).rotl(31).mul(P1_HI, P1_LO);
}

function mergeRound(v: U64): void {
  lane.set(0, 0);
  round(lane, v.hi, v.lo);
  acc.xor(lane.hi, lane.lo).mul(P1_HI, P1_LO).add(P4_HI, P4_LO);
}

function hashBytes(bytes: Uint8Array, length: number, seedHi: number, seedLo: number): bigint {
  let at = 0;
  if (length >= 32) {
    v1.set(seedHi, seedLo).add(P1_HI, P1_LO).add(P2_HI, P2_LO);
    v2.set(seedHi, seedLo).add(P2_HI, P2_LO);
    v3.set(seedHi, seedLo);
    v4.set(seedHi, seedLo).sub(P1_HI, P1_LO);
    const limit = length - 32;
    while (at <= limit) {
      round(v1, u32(bytes, at + 4), u32(bytes, at));
      round(v2, u32(bytes, at + 12), u32(bytes, at + 8));
      round(v3, u32(bytes, at + 20), u32(bytes, at + 16));
      round(v4, u32(bytes, at + 28), u32(bytes, at + 24));
      at += 32;
    }
    acc.set(v1.hi, v1.lo).rotl(1);
    let hi = acc.hi, lo = acc.lo;
    acc.set(v2.hi, v2.lo).rotl(7).add(hi, lo);
    hi = acc.hi;
    lo = acc.lo;
    acc.set(v3.hi, v3.lo).rotl(12).add(hi, lo);
    hi = acc.hi;
    lo = acc.lo;
    acc.set(v4.hi, v4.lo).rotl(18).add(hi, lo);
    mergeRound(v1);
    mergeRound(v2);
    mergeRound(v3);
    mergeRound(v4);
  } else {
    acc.set(seedHi, seedLo).add(P5_HI, P5_LO);
  }
  acc.add(Math.floor(length / 0x100000000), length);

  while (at + 8 <= length) {
    lane.set(0, 0);
    round(lane, u32(bytes, at + 4), u32(bytes, at));
    acc.xor(lane.hi, lane.lo).rotl(27).mul(P1_HI, P1_LO).add(P4_HI, P4_LO);
    at += 8;
  }
  if (at + 4 <= length) {
    lane.set(0, u32(bytes, at)).mul(P1_HI, P1_LO);
    acc.xor(lane.hi, lane.lo).rotl(23).mul(P2_HI, P2_LO).add(P3_HI, P3_LO);
    at += 4;
  }
  while (at < length) {
    lane.set(0, bytes[at]!).mul(P5_HI, P5_LO);
    acc.xor(lane.hi, lane.lo).rotl(11).mul(P1_HI, P1_LO);
    at += 1;
  }

  acc.xorShiftRight(33).mul(P2_HI, P2_LO).xorShiftRight(29).mul(P3_HI, P3_LO).xorShiftRight(32);
  resultHalves[LOW_HALF] = acc.lo;
  resultHalves[1 - LOW_HALF] = acc.hi;
  return result[0]!;
}

/**
 * XXH64 of the UTF-8 bytes of `input` (or of the bytes themselves). Envoy hashes a list of strings
 * (a header's several values) by chaining: each string's hash seeds the next.
 */
export function xxHash64(input: string | Uint8Array, seed: number | bigint = 0): bigint {
  const seedHi = typeof seed === 'number' ? Math.floor(seed / 0x100000000) >>> 0 : Number((seed >> 32n) & 0xffffffffn);
  const seedLo = typeof seed === 'number' ? seed >>> 0 : Number(seed & 0xffffffffn);
  if (typeof input !== 'string') return hashBytes(input, input.length, seedHi, seedLo);
  return hashBytes(scratch, encode(input), seedHi, seedLo);
}

/** Writes the UTF-8 form of `text` into `scratch`, returning its length; ASCII is copied directly. */
function encode(text: string): number {
  const length = text.length;
  // UTF-8 takes at most 3 bytes per UTF-16 unit.
  if (scratch.length < length * 3) scratch = new Uint8Array(length * 3);
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return encoder.encodeInto(text, scratch).written;
    scratch[i] = code;
  }
  return length;
}
