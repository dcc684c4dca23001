/** A port's application protocol, as Istio decides it from the port name prefix or appProtocol. */
export type Protocol = 'HTTP' | 'HTTP2' | 'HTTPS' | 'GRPC' | 'GRPC-Web' | 'TLS' | 'TCP' | 'Mongo' | 'Redis' | 'MySQL' | 'UDP' | 'Unsupported';

const BY_NAME: Readonly<Record<string, Protocol>> = {
  http: 'HTTP', http2: 'HTTP2', https: 'HTTPS', grpc: 'GRPC', 'grpc-web': 'GRPC-Web', tls: 'TLS', tcp: 'TCP',
  mongo: 'Mongo', redis: 'Redis', mysql: 'MySQL', udp: 'UDP', h2c: 'HTTP2', 'kubernetes.io/h2c': 'HTTP2', 'kubernetes.io/ws': 'HTTP', 'kubernetes.io/wss': 'HTTPS',
};

/**
 * A Kubernetes Service or container port, by Istio's rule: `appProtocol` wins; otherwise the port
 * name's prefix before '-' (`http-web`, `grpc`); otherwise the protocol is unknown and detected
 * per connection ('Unsupported'). The L4 `protocol` says only UDP apart from TCP.
 */
export function portProtocol(port: { name?: string | undefined; appProtocol?: string | undefined; protocol?: string | undefined }): Protocol {
  if (port.protocol === 'UDP') return 'UDP';
  if (port.appProtocol !== undefined) {
    const p = BY_NAME[port.appProtocol.toLowerCase()];
    if (p !== undefined) return p;
  }
  if (port.name !== undefined) {
    const name = port.name.toLowerCase();
    const dash = name.indexOf('-');
    const p = BY_NAME[name] ?? BY_NAME[dash >= 0 ? name.slice(0, dash) : name];
    if (p !== undefined) return p;
  }
  return 'Unsupported';
}

/** A protocol declared by name, as ServiceEntry, Gateway and Sidecar ports do (case-insensitive). */
export function declaredProtocol(protocol: string): Protocol {
  return BY_NAME[protocol.toLowerCase()] ?? 'Unsupported';
}

export function isHttpProtocol(p: Protocol): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'GRPC' || p === 'GRPC-Web';
}
