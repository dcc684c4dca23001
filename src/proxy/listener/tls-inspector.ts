/**
 * The TLS inspector's parser: reads a TLS ClientHello from the first bytes of a connection, for
 * filter chain matching on `transportProtocol: tls`, `serverNames` (SNI) and
 * `applicationProtocols` (ALPN). The bytes are only looked at, never consumed.
 */

/** The most a ClientHello may take before the inspector gives up on reading its extensions. */
export const MAX_CLIENT_HELLO_BYTES = 64 * 1024;

export type ClientHelloInspection =
  | { readonly kind: 'need-more' }
  | { readonly kind: 'not-tls' }
  | { readonly kind: 'tls'; readonly serverName?: string; readonly alpn: readonly string[] };

const NEED_MORE: ClientHelloInspection = { kind: 'need-more' };
const NOT_TLS: ClientHelloInspection = { kind: 'not-tls' };
/** TLS whose ClientHello is too large (or too broken past the record layer) to read. */
const TLS_UNKNOWN: ClientHelloInspection = { kind: 'tls', alpn: [] };

const RECORD_HANDSHAKE = 0x16;
const HANDSHAKE_CLIENT_HELLO = 0x01;
const EXTENSION_SERVER_NAME = 0x0000;
const EXTENSION_ALPN = 0x0010;
const SERVER_NAME_HOST = 0x00;
/** A record's body is at most 2^14 bytes, plus what compression could add. */
const MAX_RECORD_BODY = 16384 + 2048;

/**
 * Looks at the bytes received so far. `need-more` until the ClientHello is complete; `not-tls`
 * as soon as the bytes cannot start a TLS handshake.
 */
export function inspectClientHello(data: Uint8Array): ClientHelloInspection {
  if (data.length === 0) return NEED_MORE;
  if (data[0] !== RECORD_HANDSHAKE) return NOT_TLS;
  if (data.length >= 2 && data[1] !== 0x03) return NOT_TLS;
  if (data.length >= 3 && data[2]! > 0x04) return NOT_TLS;

  // The ClientHello may span several handshake records: join their bodies.
  const bodies: Uint8Array[] = [];
  let joined = 0;
  let offset = 0;
  while (offset + 5 <= data.length) {
    if (data[offset] !== RECORD_HANDSHAKE) return offset === 0 ? NOT_TLS : TLS_UNKNOWN;
    const length = (data[offset + 3]! << 8) | data[offset + 4]!;
    if (length === 0 || length > MAX_RECORD_BODY) return offset === 0 ? NOT_TLS : TLS_UNKNOWN;
    const end = Math.min(offset + 5 + length, data.length);
    bodies.push(data.subarray(offset + 5, end));
    joined += end - offset - 5;
    offset += 5 + length;
  }
  const handshake = bodies.length === 1 ? bodies[0]! : Buffer.concat(bodies, joined);
  if (handshake.length < 4) return data.length >= MAX_CLIENT_HELLO_BYTES ? TLS_UNKNOWN : NEED_MORE;
  if (handshake[0] !== HANDSHAKE_CLIENT_HELLO) return NOT_TLS;
  const helloLength = (handshake[1]! << 16) | (handshake[2]! << 8) | handshake[3]!;
  if (helloLength + 4 > MAX_CLIENT_HELLO_BYTES) return TLS_UNKNOWN;
  if (handshake.length < helloLength + 4) return NEED_MORE;
  return parseClientHello(handshake.subarray(4, 4 + helloLength)) ?? NOT_TLS;
}

/** The SNI and ALPN of a complete ClientHello body; undefined when it is malformed. */
function parseClientHello(hello: Uint8Array): ClientHelloInspection | undefined {
  const reader = new Reader(hello);
  // client_version, random, session_id, cipher_suites, compression_methods
  if (!reader.skip(2 + 32) || !reader.skipVector(1) || !reader.skipVector(2) || !reader.skipVector(1)) return undefined;
  if (reader.done()) return { kind: 'tls', alpn: [] };
  const extensions = reader.vector(2);
  if (extensions === undefined) return undefined;
  let serverName: string | undefined;
  const alpn: string[] = [];
  while (!extensions.done()) {
    const type = extensions.uint16();
    const body = extensions.vector(2);
    if (type === undefined || body === undefined) return undefined;
    if (type === EXTENSION_SERVER_NAME) {
      const names = body.vector(2);
      if (names === undefined) return undefined;
      while (!names.done()) {
        const nameType = names.uint8();
        const name = names.vector(2);
        if (nameType === undefined || name === undefined) return undefined;
        if (nameType === SERVER_NAME_HOST && serverName === undefined) serverName = name.text();
      }
    } else if (type === EXTENSION_ALPN) {
      const protocols = body.vector(2);
      if (protocols === undefined) return undefined;
      while (!protocols.done()) {
        const protocol = protocols.vector(1);
        if (protocol === undefined) return undefined;
        alpn.push(protocol.text());
      }
    }
  }
  return serverName !== undefined ? { kind: 'tls', serverName, alpn } : { kind: 'tls', alpn };
}

/** Reads TLS's length-prefixed vectors; every read is bounds-checked and undefined past the end. */
class Reader {
  private readonly bytes: Uint8Array;
  private position = 0;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
  }

  done(): boolean {
    return this.position >= this.bytes.length;
  }

  skip(count: number): boolean {
    if (this.position + count > this.bytes.length) return false;
    this.position += count;
    return true;
  }

  uint8(): number | undefined {
    if (this.position + 1 > this.bytes.length) return undefined;
    return this.bytes[this.position++];
  }

  uint16(): number | undefined {
    if (this.position + 2 > this.bytes.length) return undefined;
    const value = (this.bytes[this.position]! << 8) | this.bytes[this.position + 1]!;
    this.position += 2;
    return value;
  }

  /** A vector whose length takes `lengthBytes` (1 or 2) bytes, as a reader of its own. */
  vector(lengthBytes: 1 | 2): Reader | undefined {
    const length = lengthBytes === 1 ? this.uint8() : this.uint16();
    if (length === undefined || this.position + length > this.bytes.length) return undefined;
    const inner = new Reader(this.bytes.subarray(this.position, this.position + length));
    this.position += length;
    return inner;
  }

  skipVector(lengthBytes: 1 | 2): boolean {
    return this.vector(lengthBytes) !== undefined;
  }

  text(): string {
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset, this.bytes.length).toString('latin1');
  }
}
