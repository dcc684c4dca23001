import type { Headers } from './headers.ts';

export type HttpProtocol = 'HTTP/1.0' | 'HTTP/1.1' | 'HTTP/2';

/** The request line and headers; filters may change them (a rewrite changes `path`). */
export interface RequestHead {
  method: string;
  /** The path with its query string, as sent on (`:path`). */
  path: string;
  /** Host or `:authority`. */
  authority: string;
  scheme: 'http' | 'https';
  headers: Headers;
  readonly protocol: HttpProtocol;
}
