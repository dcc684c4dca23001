import type { Diagnostic } from '../../diagnostic.ts';
import { Messages } from '../../messages.ts';
import type { AnalysisContext } from '../analysis-context.ts';
import { finding, type Analyzer } from '../analyzer.ts';
import { ROOT_NAMESPACE } from '../host-name.ts';

/** Kubernetes' own namespaces and the control plane's, where sidecars are never wanted. */
const SYSTEM_NAMESPACES = new Set(['kube-system', 'kube-public', 'kube-node-lease', ROOT_NAMESPACE]);

const INJECTION_LABEL = 'istio-injection';
const REVISION_LABEL = 'istio.io/rev';

/**
 * A namespace of the input gets sidecars only when labelled `istio-injection=enabled` (or with a
 * revision, `istio.io/rev`). An explicit `istio-injection=disabled` is reported too, so that the
 * choice is visible.
 */
export const namespaceNotInjected: Analyzer = {
  name: 'NamespaceNotInjected',
  messages: [Messages.NamespaceNotInjected],
  analyze(context: AnalysisContext): Diagnostic[] {
    const out: Diagnostic[] = [];
    for (const namespace of context.ofKind('Namespace')) {
      const name = namespace.name;
      if (SYSTEM_NAMESPACES.has(name)) continue;
      const labels = namespace.object.metadata.labels ?? {};
      const injection = labels[INJECTION_LABEL];
      if (injection === 'enabled' || (injection === undefined && labels[REVISION_LABEL] !== undefined)) continue;
      const message = injection === 'disabled'
        ? `Istio injection is explicitly disabled for this namespace (${INJECTION_LABEL}=disabled), so its workloads get no sidecar. Run 'kubectl label namespace ${name} ${INJECTION_LABEL}=enabled --overwrite' to enable it.`
        : `The namespace is not enabled for Istio injection. Run 'kubectl label namespace ${name} ${INJECTION_LABEL}=enabled' to enable it, or 'kubectl label namespace ${name} ${INJECTION_LABEL}=disabled' to explicitly mark it as not needing injection.`;
      out.push(finding(Messages.NamespaceNotInjected, namespace, message, ['metadata', 'name']));
    }
    return out;
  },
};
