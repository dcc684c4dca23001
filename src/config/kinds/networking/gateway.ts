import * as z from 'zod';
import { closestMatch } from '../../../core/index.ts';
import { addIssue, ALWAYS, crossField, hostNameProblem, isDns1123Label, isIP, labels } from '../../schema/common.ts';
import { defineKind, istioObject, ISTIO_NETWORKING_GROUP, ISTIO_NETWORKING_VERSIONS } from '../kind-definition.ts';

export const GATEWAY_PROTOCOLS = ['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS'] as const;
export type GatewayProtocol = (typeof GATEWAY_PROTOCOLS)[number];

/** Istio reads a server's protocol case-insensitively: `http` and `Http` are HTTP. */
export function gatewayProtocol(value: string): GatewayProtocol | undefined {
  const upper = value.toUpperCase();
  return GATEWAY_PROTOCOLS.find((p) => p === upper);
}

const HTTP_PROTOCOLS: readonly GatewayProtocol[] = ['HTTP', 'HTTP2', 'GRPC', 'GRPC-WEB'];
const TLS_PROTOCOLS: readonly GatewayProtocol[] = ['HTTPS', 'TLS'];

const UNIX_PREFIX = 'unix://';

function unixAddressProblem(address: string): string | undefined {
  const path = address.slice(UNIX_PREFIX.length);
  if (path === '') return `"${address}": the unix socket path must not be empty`;
  if (path.startsWith('@')) return undefined;
  if (!path.startsWith('/') || path.endsWith('/')) return `"${address}": a unix socket must be an absolute file path (unix:///path/to/socket) or an abstract name (unix://@name)`;
  return undefined;
}

/**
 * Istio's rule for a server host: `dnsName` or `namespace/dnsName`, the namespace being `*`, `.`
 * or a namespace name; the name is fully qualified (or `*`), a wildcard only as the whole first
 * label (`*.example.com`), or an IP address.
 */
export function gatewayHostProblem(host: string): string | undefined {
  let dnsName = host;
  const slash = host.indexOf('/');
  if (slash >= 0) {
    const namespace = host.slice(0, slash);
    dnsName = host.slice(slash + 1);
    if (namespace === '' || dnsName === '') return `host "${host}": both the namespace and the host name must be given ("namespace/host")`;
    if (namespace !== '*' && namespace !== '.' && !isDns1123Label(namespace)) return `host "${host}": "${namespace}" is not "*", "." or a namespace name`;
  }
  if (isIP(dnsName)) return undefined;
  if (dnsName !== '*' && !dnsName.includes('.')) return `host "${host}": "${dnsName}" is a short name; a gateway host must be fully qualified (e.g. "${dnsName}.example.com") or "*"`;
  if (dnsName.includes('*') && dnsName !== '*' && !dnsName.startsWith('*.')) return `host "${host}": a partial wildcard is not allowed; write "*" or "*.<domain>"`;
  const problem = hostNameProblem(dnsName);
  if (problem !== undefined) return slash >= 0 ? `${problem} (in "${host}")` : problem;
  const parts = (dnsName.endsWith('.') ? dnsName.slice(0, -1) : dnsName).split('.');
  const tld = parts[parts.length - 1] ?? '';
  if (/^\d+$/.test(tld)) return `host "${host}": the top-level domain "${tld}" cannot be all digits`;
  return undefined;
}

export const Port = z.strictObject({
  number: z.number().int().min(0).max(65535),
  protocol: z.string().check((ctx) => {
    if (gatewayProtocol(ctx.value) !== undefined) return;
    const suggestion = closestMatch(ctx.value, GATEWAY_PROTOCOLS);
    const hint = suggestion !== undefined ? ` (did you mean "${suggestion}"?)` : '';
    ctx.issues.push({ code: 'custom', message: `"${ctx.value}" is not a gateway protocol; expected one of ${GATEWAY_PROTOCOLS.join(', ')}${hint}`, input: ctx.value });
  }),
  name: z.string().check((ctx) => {
    if (ctx.value === '') ctx.issues.push({ code: 'custom', message: 'port name must not be empty', input: ctx.value });
  }),
  /** Deprecated and meaningless on a Gateway; Istio refuses a non-zero value. */
  targetPort: z.number().int().min(0).max(4294967295).optional(),
});
export type Port = z.infer<typeof Port>;

export const TLSCertificate = z.strictObject({
  serverCertificate: z.string().optional(),
  privateKey: z.string().optional(),
  caCertificates: z.string().optional(),
});
export type TLSCertificate = z.infer<typeof TLSCertificate>;

export const TLS_PROTOCOL_VERSIONS = ['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'] as const;

/** The cipher suites Envoy's BoringSSL accepts on a gateway (Istio's list). */
export const CIPHER_SUITES = [
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES256-SHA', 'AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA', 'AES256-SHA', 'DES-CBC3-SHA',
];

/** Istio passes `ALL` and OpenSSL operator expressions (`-X`, `!X`, `[A|B]`) through unchecked. */
function cipherSuiteProblem(suite: string): string | undefined {
  if (suite === '' || suite === 'ALL' || !/^[A-Za-z0-9]/.test(suite) || CIPHER_SUITES.includes(suite)) return undefined;
  const suggestion = closestMatch(suite, CIPHER_SUITES);
  return `"${suite}" is not a supported cipher suite${suggestion !== undefined ? ` (did you mean "${suggestion}"?)` : ''}`;
}

const SPKI = /^[A-Za-z0-9+/]{43}=$/;
const CERT_HASH = /^([0-9A-Fa-f]{64}|[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){31})$/;

const spkiHash = z.string().check((ctx) => {
  if (!SPKI.test(ctx.value)) ctx.issues.push({ code: 'custom', message: `"${ctx.value}" is not a base64-encoded SHA-256 hash (44 characters ending in "=")`, input: ctx.value });
});
const certificateHash = z.string().check((ctx) => {
  if (!CERT_HASH.test(ctx.value)) ctx.issues.push({ code: 'custom', message: `"${ctx.value}" is not a hex-encoded SHA-256 hash (64 hex digits, optionally in colon-separated pairs)`, input: ctx.value });
});

export const ServerTLSSettings = z
  .strictObject({
    httpsRedirect: z.boolean().optional(),
    mode: z.enum(['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL']).optional(),
    serverCertificate: z.string().optional(),
    privateKey: z.string().optional(),
    caCertificates: z.string().optional(),
    caCrl: z.string().optional(),
    credentialName: z.string().optional(),
    credentialNames: z.array(z.string()).min(1).max(2).optional(),
    caCertCredentialName: z.string().optional(),
    tlsCertificates: z.array(TLSCertificate).min(1).max(2).optional(),
    subjectAltNames: z.array(z.string()).optional(),
    verifyCertificateSpki: z.array(spkiHash).optional(),
    verifyCertificateHash: z.array(certificateHash).optional(),
    minProtocolVersion: z.enum(TLS_PROTOCOL_VERSIONS).optional(),
    maxProtocolVersion: z.enum(TLS_PROTOCOL_VERSIONS).optional(),
    cipherSuites: z.array(z.string()).optional(),
    insecureSkipVerify: z.boolean().optional(),
  })
  .superRefine(crossField((tls, ctx) => {
    const has = (field: keyof typeof tls): boolean => {
      const value = tls[field];
      return value !== undefined && value !== '' && !(Array.isArray(value) && value.length === 0);
    };
    const seenSuites = new Set<string>();
    tls.cipherSuites?.forEach((suite, i) => {
      const problem = cipherSuiteProblem(suite);
      if (problem !== undefined) addIssue(ctx, ['cipherSuites', i], problem);
      else if (seenSuites.has(suite)) addIssue(ctx, ['cipherSuites', i], `cipher suite "${suite}" is listed twice`);
      seenSuites.add(suite);
    });
    const min = tls.minProtocolVersion;
    const max = tls.maxProtocolVersion;
    if (min !== undefined && max !== undefined && min !== 'TLS_AUTO' && max !== 'TLS_AUTO' && TLS_PROTOCOL_VERSIONS.indexOf(min) > TLS_PROTOCOL_VERSIONS.indexOf(max)) {
      addIssue(ctx, ['maxProtocolVersion'], `maxProtocolVersion ${max} is below minProtocolVersion ${min}`);
    }

    const mode = tls.mode ?? 'PASSTHROUGH';
    if (mode === 'ISTIO_MUTUAL') {
      for (const field of ['serverCertificate', 'privateKey', 'caCertificates', 'tlsCertificates', 'credentialName', 'credentialNames'] as const) {
        if (has(field)) addIssue(ctx, [field], `${field} must be empty with mode ISTIO_MUTUAL, which uses the gateway's mesh certificate`);
      }
      return;
    }

    const sources = [
      has('serverCertificate') && has('privateKey') ? 'serverCertificate/privateKey' : undefined,
      has('credentialName') ? 'credentialName' : undefined,
      has('credentialNames') ? 'credentialNames' : undefined,
      has('tlsCertificates') ? 'tlsCertificates' : undefined,
    ].filter((s) => s !== undefined);
    if (sources.length > 1) addIssue(ctx, [], `only one certificate source may be set: credentialName, credentialNames, serverCertificate/privateKey or tlsCertificates, got ${sources.join(' and ')}`);

    const terminates = mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
    // A credential's Secret holds the certificate, key and CA, so nothing else is required.
    if (terminates && (has('credentialName') || has('credentialNames'))) return;
    if (terminates) {
      if (mode !== 'SIMPLE' && !has('caCertificates') && !has('caCertCredentialName')) {
        addIssue(ctx, ['caCertificates'], `mode ${mode} needs caCertificates (the CA that verifies client certificates), or credentialName`);
      }
      if (has('tlsCertificates')) {
        tls.tlsCertificates?.forEach((certificate, i) => {
          if (!certificate.serverCertificate) addIssue(ctx, ['tlsCertificates', i, 'serverCertificate'], `mode ${mode} needs a serverCertificate in each tlsCertificates entry`);
          if (!certificate.privateKey) addIssue(ctx, ['tlsCertificates', i, 'privateKey'], `mode ${mode} needs a privateKey in each tlsCertificates entry`);
        });
      } else if (!has('serverCertificate') && !has('privateKey')) {
        addIssue(ctx, [], `mode ${mode} needs credentialName (a Secret with the certificate), or serverCertificate and privateKey`);
      } else if (!has('serverCertificate')) {
        addIssue(ctx, ['serverCertificate'], `mode ${mode} needs serverCertificate together with privateKey`);
      } else if (!has('privateKey')) {
        addIssue(ctx, ['privateKey'], `mode ${mode} needs privateKey together with serverCertificate`);
      }
    }
    if (has('caCrl')) {
      if (has('credentialName')) addIssue(ctx, ['caCrl'], 'caCrl cannot be combined with credentialName; put the CRL in the credential\'s Secret (key ca.crl)');
      if (mode === 'SIMPLE') addIssue(ctx, ['caCrl'], 'caCrl has no effect with mode SIMPLE, which does not ask for client certificates');
    }
  }), ALWAYS);
export type ServerTLSSettings = z.infer<typeof ServerTLSSettings>;

export const Server = z
  .strictObject({
    port: Port,
    bind: z.string().check((ctx) => {
      const problem = ctx.value.startsWith(UNIX_PREFIX) ? unixAddressProblem(ctx.value) : isIP(ctx.value) ? undefined : `bind "${ctx.value}" must be an IP address or a unix socket (unix:///path or unix://@name)`;
      if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    }).optional(),
    hosts: z.array(z.string().check((ctx) => {
      const problem = gatewayHostProblem(ctx.value);
      if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    })).min(1),
    tls: ServerTLSSettings.optional(),
    defaultEndpoint: z.string().check((ctx) => {
      if (ctx.value.startsWith(UNIX_PREFIX)) {
        const problem = unixAddressProblem(ctx.value);
        if (problem !== undefined) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
        return;
      }
      const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(ctx.value);
      const ip = match?.[1] ?? match?.[2];
      const port = Number(match?.[3]);
      if (ip === undefined || !isIP(ip) || !(port >= 1 && port <= 65535)) {
        ctx.issues.push({ code: 'custom', message: `defaultEndpoint "${ctx.value}" must be an IP address and port such as 127.0.0.1:8080, or a unix socket (unix:///path)`, input: ctx.value });
      }
    }).optional(),
    name: z.string().optional(),
  })
  .superRefine(crossField((server, ctx) => {
    const unix = server.bind?.startsWith(UNIX_PREFIX) === true;
    if (unix && server.port.number !== 0) addIssue(ctx, ['port', 'number'], `port number must be 0 when binding to a unix socket, got ${server.port.number}`);
    if (!unix && server.port.number === 0) addIssue(ctx, ['port', 'number'], 'port number must be 1..65535, got 0');
    if ((server.port.targetPort ?? 0) > 0) addIssue(ctx, ['port', 'targetPort'], 'targetPort has no effect on a Gateway; remove it');

    const protocol = gatewayProtocol(server.port.protocol);
    if (protocol === undefined) return;
    const tls = server.tls;
    if (TLS_PROTOCOLS.includes(protocol)) {
      if (tls === undefined) addIssue(ctx, ['tls'], `a ${protocol} server needs tls settings (e.g. mode: SIMPLE with credentialName, or mode: PASSTHROUGH)`);
    } else if (tls !== undefined) {
      const passthrough = tls.mode === undefined || tls.mode === 'PASSTHROUGH' || tls.mode === 'AUTO_PASSTHROUGH';
      if (!HTTP_PROTOCOLS.includes(protocol)) {
        addIssue(ctx, ['tls'], `a ${protocol} server cannot have tls settings; use protocol TLS or HTTPS to terminate or pass through TLS`);
      } else if (!passthrough || tls.caCertificates || tls.privateKey || tls.serverCertificate) {
        addIssue(ctx, ['tls'], `a plain-text ${protocol} server can only set tls.httpsRedirect; terminate TLS on an HTTPS server`);
      }
    }
  }), ALWAYS);
export type Server = z.infer<typeof Server>;

export const GatewaySpec = z
  .strictObject({
    selector: labels.optional(),
    servers: z.array(Server).optional(),
  })
  .superRefine(crossField((gateway, ctx) => {
    const servers = gateway.servers ?? [];
    if (servers.length === 0) addIssue(ctx, ['servers'], 'a Gateway needs at least one server');
    const portNames = new Map<string, number>();
    const serverNames = new Map<string, number>();
    servers.forEach((server, i) => {
      const portName = server.port?.name;
      if (portName !== undefined) {
        const first = portNames.get(portName);
        if (first !== undefined) addIssue(ctx, ['servers', i, 'port', 'name'], `port name "${portName}" is already used by servers[${first}]; port names must be unique across servers`);
        else portNames.set(portName, i);
      }
      if (server.name !== undefined) {
        const first = serverNames.get(server.name);
        if (first !== undefined) addIssue(ctx, ['servers', i, 'name'], `server name "${server.name}" is already used by servers[${first}]; server names must be unique`);
        else serverNames.set(server.name, i);
      }
    });
  }), ALWAYS);
export type GatewaySpec = z.infer<typeof GatewaySpec>;

export const GatewayKind = defineKind({
  kind: 'Gateway',
  group: ISTIO_NETWORKING_GROUP,
  versions: ISTIO_NETWORKING_VERSIONS,
  schema: istioObject(GatewaySpec).superRefine(crossField((gateway, ctx) => {
    // Istio's rule, stricter than Kubernetes': a Gateway name has no dots.
    const name = gateway.metadata.name;
    if (typeof name === 'string' && name !== '' && !isDns1123Label(name)) {
      addIssue(ctx, ['metadata', 'name'], `a Gateway name must be a DNS-1123 label (lower-case letters, digits and '-', no dots), got "${name}"`);
    }
  }), ALWAYS),
});
export type Gateway = z.infer<typeof GatewayKind.schema>;
