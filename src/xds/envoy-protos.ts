import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/**
 * The Envoy v3 API, loaded from the protos that ship in @grpc/grpc-js-xds, and Istio's certificate
 * service from Weft's own proto/. One Root holds every message type Weft sends or reads; it is
 * loaded once per process (about a few hundred ms).
 */
const ENTRY_PROTOS = [
  'envoy/service/discovery/v3/ads.proto',
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/core/v3/base.proto',
  'envoy/admin/v3/config_dump.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/tls/v3/secret.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/network/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/filters/http/rbac/v3/rbac.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/load_balancing_policies/round_robin/v3/round_robin.proto',
  'envoy/extensions/load_balancing_policies/least_request/v3/least_request.proto',
  'envoy/extensions/load_balancing_policies/ring_hash/v3/ring_hash.proto',
  'envoy/extensions/load_balancing_policies/maglev/v3/maglev.proto',
  'envoy/extensions/load_balancing_policies/random/v3/random.proto',
  'envoy/extensions/retry/host/previous_hosts/v3/previous_hosts.proto',
  'envoy/extensions/retry/priority/previous_priorities/v3/previous_priorities_config.proto',
  'xds/type/v3/typed_struct.proto',
  'google/rpc/status.proto',
  'istio/ca.proto',
  'istio/authn.proto',
];

function protoDirectories(): string[] {
  const require = createRequire(import.meta.url);
  const deps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
  // protobufjs ships google/protobuf's own protos (descriptor.proto among them).
  const protobufjsDir = dirname(require.resolve('protobufjs/package.json'));
  return [...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => join(deps, d)), protobufjsDir, fileURLToPath(new URL('./proto/', import.meta.url))];
}

let cached: protobuf.Root | undefined;

export function envoyProtos(): protobuf.Root {
  if (cached !== undefined) return cached;
  const directories = protoDirectories();
  const root = new protobuf.Root();
  root.resolvePath = (origin, target) => {
    // protobufjs knows google/protobuf's well-known types without a file.
    if (target in protobuf.common) return target;
    for (const directory of directories) {
      const candidate = join(directory, target);
      if (existsSync(candidate)) return candidate;
    }
    return protobuf.util.path.resolve(origin, target);
  };
  root.loadSync(ENTRY_PROTOS, { keepCase: false });
  root.resolveAll();
  cached = root;
  return root;
}

/** The message type with the given full name (`envoy.config.cluster.v3.Cluster`). */
export function messageType(fullName: string): protobuf.Type {
  return envoyProtos().lookupType(fullName);
}
