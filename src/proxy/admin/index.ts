export { AdminServer, type AdminEndpoint, type AdminRequest, type AdminResponse, type AdminServerOptions } from './admin-server.ts';
export {
  adminEndpoints,
  healthEndpoints,
  prometheusEndpoints,
  LOG_LEVELS,
  type AdminEndpointsOptions,
  type LogLevel,
  type ListenerAddress,
  type LogLevelControl,
  type ServerState,
} from './admin-endpoints.ts';
export { formatCertificates, type CertificateDetails, type CertificatesProvider, type HeldCertificate } from './certificate-details.ts';
export { formatClustersJson, formatClustersText, type CircuitBreakerThresholds, type ClusterStatus, type HostStatus } from './cluster-status.ts';
export {
  buildConfigDump,
  CONFIG_DUMP_ORDER,
  ConfigDumpType,
  type BootstrapConfigDump,
  type ClustersConfigDump,
  type ConfigDump,
  type ConfigDumpSection,
  type ConfigDumpSource,
  type EndpointsConfigDump,
  type ListenersConfigDump,
  type ListenerState,
  type RoutesConfigDump,
  type SecretsConfigDump,
  type TypedResource,
} from './config-dump.ts';
export { secretsDumpSource } from './secrets-dump.ts';
