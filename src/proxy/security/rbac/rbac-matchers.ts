import type { Problems } from '../../route/problems.ts';
import { parseCidrRange } from './cidr-range.ts';
import { parseHeaderMatcher } from './header-matcher.ts';
import { parseMetadataMatcher } from './metadata-matcher.ts';
import type { MatchContext } from './rbac-input.ts';
import { bool, checkFields, fieldPath, integer, list, message, oneofMember, type Raw } from './raw-json.ts';
import { parseStringMatcher } from './string-matcher.ts';

/** A compiled Permission or Principal. */
export type RbacMatcher = (context: MatchContext) => boolean;

const PERMISSION_KINDS = [
  'any', 'andRules', 'orRules', 'notRule', 'header', 'urlPath', 'destinationIp', 'destinationPort', 'destinationPortRange', 'metadata', 'requestedServerName',
] as const;
const PERMISSION_UNSUPPORTED: Readonly<Record<string, string>> = {
  matcher: 'Weft has no RBAC matcher extensions',
  uriTemplate: 'Weft has no URI template matcher; use urlPath',
  sourcedMetadata: 'use metadata, which reads the request\'s dynamic metadata',
};

const PRINCIPAL_KINDS = [
  'any', 'andIds', 'orIds', 'notId', 'authenticated', 'sourceIp', 'directRemoteIp', 'remoteIp', 'header', 'urlPath', 'metadata',
] as const;
const PRINCIPAL_UNSUPPORTED: Readonly<Record<string, string>> = {
  filterState: 'Weft keeps no filter state',
  sourcedMetadata: 'use metadata, which reads the request\'s dynamic metadata',
  custom: 'Weft has no custom principal extensions',
};

/**
 * An `envoy.config.rbac.v3.Permission`: what the request or connection asks for. Header, urlPath
 * and metadata rules read the HTTP request and match nothing on a TCP connection.
 */
export function parsePermission(raw: unknown, at: string, problems: Problems): RbacMatcher | undefined {
  const permission = message(raw, 'Permission', at, problems);
  if (permission === undefined) return undefined;
  const kind = oneofMember(permission, PERMISSION_KINDS, PERMISSION_UNSUPPORTED, 'Permission', at, problems);
  if (kind === undefined) return undefined;
  const spec = permission[kind];
  const kat = fieldPath(at, kind);
  switch (kind) {
    case 'any': return parseAny(spec, kat, problems);
    case 'andRules': return parseSet(spec, 'rules', 'Permission.Set', parsePermission, kat, problems, 'and');
    case 'orRules': return parseSet(spec, 'rules', 'Permission.Set', parsePermission, kat, problems, 'or');
    case 'notRule': return negate(parsePermission(spec, kat, problems));
    case 'header': return headerRule(spec, kat, problems);
    case 'urlPath': return urlPathRule(spec, kat, problems);
    case 'metadata': return metadataRule(spec, kat, problems);
    case 'destinationIp': {
      const inRange = parseCidrRange(spec, kat, problems);
      return inRange === undefined ? undefined : (c) => inRange(c.connection.localAddress);
    }
    case 'destinationPort': {
      const port = integer(spec, 0, 65535, kat, problems);
      return port === undefined ? undefined : (c) => c.connection.localPort === port;
    }
    case 'destinationPortRange': return portRange(spec, kat, problems);
    case 'requestedServerName': {
      const test = parseStringMatcher(spec, kat, problems);
      return test === undefined ? undefined : (c) => test(c.connection.serverName);
    }
  }
}

/**
 * An `envoy.config.rbac.v3.Principal`: who is asking. `authenticated` reads the verified peer
 * certificate; sourceIp, directRemoteIp and remoteIp all read the downstream peer's address.
 */
export function parsePrincipal(raw: unknown, at: string, problems: Problems): RbacMatcher | undefined {
  const principal = message(raw, 'Principal', at, problems);
  if (principal === undefined) return undefined;
  const kind = oneofMember(principal, PRINCIPAL_KINDS, PRINCIPAL_UNSUPPORTED, 'Principal', at, problems);
  if (kind === undefined) return undefined;
  const spec = principal[kind];
  const kat = fieldPath(at, kind);
  switch (kind) {
    case 'any': return parseAny(spec, kat, problems);
    case 'andIds': return parseSet(spec, 'ids', 'Principal.Set', parsePrincipal, kat, problems, 'and');
    case 'orIds': return parseSet(spec, 'ids', 'Principal.Set', parsePrincipal, kat, problems, 'or');
    case 'notId': return negate(parsePrincipal(spec, kat, problems));
    case 'authenticated': return authenticated(spec, kat, problems);
    case 'sourceIp':
    case 'directRemoteIp':
    case 'remoteIp': {
      const inRange = parseCidrRange(spec, kat, problems);
      return inRange === undefined ? undefined : (c) => inRange(c.connection.remoteAddress);
    }
    case 'header': return headerRule(spec, kat, problems);
    case 'urlPath': return urlPathRule(spec, kat, problems);
    case 'metadata': return metadataRule(spec, kat, problems);
  }
}

/** Envoy requires `any: true`. */
function parseAny(spec: unknown, at: string, problems: Problems): RbacMatcher | undefined {
  const value = bool(spec, at, problems);
  if (value === false) problems.add(at, 'must be true (leave the rule out instead)');
  return value === true ? () => true : undefined;
}

function negate(inner: RbacMatcher | undefined): RbacMatcher | undefined {
  return inner === undefined ? undefined : (c) => !inner(c);
}

function parseSet(
  spec: unknown, field: 'rules' | 'ids', name: string, parse: (raw: unknown, at: string, problems: Problems) => RbacMatcher | undefined,
  at: string, problems: Problems, combine: 'and' | 'or',
): RbacMatcher | undefined {
  const set = message(spec, name, at, problems);
  if (set === undefined) return undefined;
  checkFields(set, [field], name, at, problems);
  const lat = fieldPath(at, field);
  const members = list(set[field], 1, lat, problems)?.map((m, i) => parse(m, `${lat}[${i}]`, problems));
  if (members === undefined || members.some((m) => m === undefined)) return undefined;
  const all = members as RbacMatcher[];
  return combine === 'and' ? (c) => all.every((m) => m(c)) : (c) => all.some((m) => m(c));
}

function headerRule(spec: unknown, at: string, problems: Problems): RbacMatcher | undefined {
  const test = parseHeaderMatcher(spec, at, problems);
  return test === undefined ? undefined : (c) => c.request !== undefined && test(c.request.view);
}

/** `envoy.type.matcher.v3.PathMatcher`: its StringMatcher on the path without query string or fragment. */
function urlPathRule(spec: unknown, at: string, problems: Problems): RbacMatcher | undefined {
  const matcher = message(spec, 'PathMatcher', at, problems);
  if (matcher === undefined) return undefined;
  const kind = oneofMember(matcher, ['path'] as const, {}, 'PathMatcher', at, problems);
  const test = kind === undefined ? undefined : parseStringMatcher(matcher['path'], fieldPath(at, 'path'), problems);
  return test === undefined ? undefined : (c) => c.request !== undefined && test(c.request.view.path);
}

function metadataRule(spec: unknown, at: string, problems: Problems): RbacMatcher | undefined {
  const test = parseMetadataMatcher(spec, at, problems);
  return test === undefined ? undefined : (c) => c.request !== undefined && test(c.request.metadata);
}

/** `envoy.type.v3.Int32Range` over the destination port: [start, end), both in 0..65536, start below end. */
function portRange(spec: unknown, at: string, problems: Problems): RbacMatcher | undefined {
  const range = message(spec, 'Int32Range', at, problems);
  if (range === undefined) return undefined;
  checkFields(range, ['start', 'end'], 'Int32Range', at, problems);
  const start = integer(range['start'] ?? 0, 0, 65536, fieldPath(at, 'start'), problems);
  const end = integer(range['end'] ?? 0, 0, 65536, fieldPath(at, 'end'), problems);
  if (start === undefined || end === undefined) return undefined;
  if (start >= end) {
    problems.add(at, `start ${start} must be below end ${end} (the end is exclusive)`);
    return undefined;
  }
  return (c) => c.connection.localPort >= start && c.connection.localPort < end;
}

/**
 * Envoy's `authenticated`: a connection with a verified peer certificate; with `principalName`,
 * one whose URI SANs, else DNS SANs, else subject match it (Envoy tries every URI SAN, then every
 * DNS SAN, then the subject, and any match counts). No peer certificate, no match.
 */
function authenticated(spec: unknown, at: string, problems: Problems): RbacMatcher | undefined {
  const auth: Raw | undefined = message(spec, 'Principal.Authenticated', at, problems);
  if (auth === undefined) return undefined;
  checkFields(auth, ['principalName'], 'Principal.Authenticated', at, problems);
  if (auth['principalName'] === undefined) return (c) => c.connection.peerCertificate !== undefined;
  const test = parseStringMatcher(auth['principalName'], fieldPath(at, 'principalName'), problems);
  if (test === undefined) return undefined;
  return (c) => {
    const cert = c.connection.peerCertificate;
    return cert !== undefined && (cert.uriSans.some(test) || cert.dnsSans.some(test) || test(cert.subject));
  };
}
