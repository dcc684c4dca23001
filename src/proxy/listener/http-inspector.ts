/**
 * The HTTP inspector's parser: tells plain-text HTTP from other bytes by the start of a
 * connection, for filter chains that match `applicationProtocols` (`http/1.1`, `http/1.0`, `h2c`).
 * HTTP/1 is recognised by a complete request line, HTTP/2 by its connection preface.
 */

export type HttpInspection = 'need-more' | 'not-http' | 'http/1.0' | 'http/1.1' | 'h2c';

/** Past this many bytes without a complete request line, the bytes are not HTTP. */
export const MAX_REQUEST_LINE_BYTES = 64 * 1024;

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const VERSION_PREFIX = Buffer.from('HTTP/1.', 'latin1');

const SPACE = 0x20;
const CR = 0x0d;
const LF = 0x0a;

/** RFC 9110 token characters, which a method is made of. */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TOKEN[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c++) TOKEN[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) TOKEN[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) TOKEN[c] = 1;

export function inspectHttp(data: Uint8Array): HttpInspection {
  const prefaceBytes = Math.min(data.length, H2_PREFACE.length);
  if (prefaceBytes > 0 && H2_PREFACE.compare(data, 0, prefaceBytes, 0, prefaceBytes) === 0) {
    return prefaceBytes === H2_PREFACE.length ? 'h2c' : 'need-more';
  }
  return inspectRequestLine(data);
}

/** `method SP request-target SP HTTP/1.x CRLF`, read as far as the bytes go. */
function inspectRequestLine(data: Uint8Array): HttpInspection {
  const limit = Math.min(data.length, MAX_REQUEST_LINE_BYTES);
  let i = 0;
  while (i < limit && data[i]! < 128 && TOKEN[data[i]!] === 1) i++;
  if (i === limit) return more(data);
  if (i === 0 || data[i] !== SPACE) return 'not-http';
  const targetStart = ++i;
  while (i < limit && data[i]! > SPACE && data[i]! < 0x7f) i++;
  if (i === limit) return more(data);
  if (i === targetStart || data[i] !== SPACE) return 'not-http';
  i++;
  for (let k = 0; k < VERSION_PREFIX.length; k++, i++) {
    if (i === limit) return more(data);
    if (data[i] !== VERSION_PREFIX[k]) return 'not-http';
  }
  if (i === limit) return more(data);
  const minor = data[i++];
  if (i === limit) return more(data);
  const lineEnd = data[i] === CR ? (i + 1 === limit ? undefined : data[i + 1]) : data[i];
  if (lineEnd === undefined) return more(data);
  if (lineEnd !== LF) return 'not-http';
  if (minor === 0x31) return 'http/1.1';
  if (minor === 0x30) return 'http/1.0';
  return 'not-http';
}

function more(data: Uint8Array): HttpInspection {
  return data.length >= MAX_REQUEST_LINE_BYTES ? 'not-http' : 'need-more';
}
