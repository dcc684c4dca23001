import type { Diagnostic } from '../../diagnostic.ts';
import { Messages } from '../../messages.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';
import { ROOT_NAMESPACE } from '../host-name.ts';

/** The protocols a Service port name can announce: `http`, `http-web`, `grpc-api`, ... */
const PORT_NAME_PROTOCOLS = ['http', 'http2', 'https', 'grpc', 'grpc-web', 'mongo', 'mysql', 'redis', 'tcp', 'tls', 'udp'] as const;

/** Whether `name` is `<protocol>` or `<protocol>-<suffix>` for a known protocol (case-insensitive). */
function portNameHasProtocol(name: string): boolean {
  const lower = name.toLowerCase();
  return PORT_NAME_PROTOCOLS.some((p) => lower === p || lower.startsWith(`${p}-`));
}

/**
 * Istio picks a Service port's protocol from `appProtocol`, else from the port name's prefix, else
 * sniffs it from the first bytes, which costs latency and cannot work for server-first protocols.
 * UDP ports need no name, and the control plane's own Services are left alone.
 */
export const portNameNotUnderNamingConvention: Analyzer = {
  name: 'PortNameNotUnderNamingConvention',
  messages: [Messages.PortNameNotUnderNamingConvention],
  analyze(context: AnalysisContext): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const service of context.ofKind('Service')) {
      if (service.namespace === ROOT_NAMESPACE) continue;
      (service.object.spec?.ports ?? []).forEach((port, i) => {
        const name = port.name ?? '';
        if (port.appProtocol !== undefined || port.protocol === 'UDP' || portNameHasProtocol(name)) return;
        out.push(finding(
          Messages.PortNameNotUnderNamingConvention,
          service,
          `Port name ${name === '' ? '(unnamed)' : name} (port: ${port.port}, targetPort: ${port.targetPort ?? port.port}) doesn't follow the naming convention of Istio port.`,
          ['spec', 'ports', i],
        ));
      });
    }
    return out;
  },
};
