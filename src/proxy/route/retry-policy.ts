import { parseDuration } from '../../core/index.ts';
import type { RetryPolicy as EnvoyRetryPolicy } from '../../xds/envoy/index.ts';
import { durationMs } from './config-duration.ts';
import type { Problems } from './problems.ts';
import type { RetryCondition, RetryPolicy } from './route-entry.ts';

const RETRY_CONDITIONS: ReadonlySet<string> = new Set<RetryCondition>([
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx', 'refused-stream',
  'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure', 'cancelled', 'deadline-exceeded', 'internal',
  'resource-exhausted', 'unavailable',
]);

const PREVIOUS_HOSTS = { name: 'envoy.retry_host_predicates.previous_hosts', type: 'type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate' };
const PREVIOUS_PRIORITIES = { name: 'envoy.retry_priorities.previous_priorities', type: 'type.googleapis.com/envoy.extensions.retry.priority.previous_priorities.v3.PreviousPrioritiesConfig' };

const DEFAULT_BASE_INTERVAL_MS = 25;

/**
 * Envoy's retry policy with its defaults: one retry, no per-try timeout, back-off from 25 ms
 * capped at ten times the base. Conditions in `retryOn` that Envoy does not know are ignored, as
 * Envoy ignores them. The retry extensions are the previous_hosts predicate and the
 * previous_priorities retry priority (Istio's retryRemoteLocalities), each of which a retry avoids.
 */
export function compileRetryPolicy(policy: EnvoyRetryPolicy, at: string, problems: Problems): RetryPolicy {
  const retryOn = new Set<RetryCondition>();
  for (const token of (policy.retryOn ?? '').split(',')) {
    const condition = token.trim();
    if (RETRY_CONDITIONS.has(condition)) retryOn.add(condition as RetryCondition);
  }

  let baseMs = DEFAULT_BASE_INTERVAL_MS;
  let maxMs: number | undefined;
  const backOff = policy.retryBackOff;
  if (backOff !== undefined) {
    const base = positiveDuration(backOff.baseInterval, `${at}.retryBackOff.baseInterval`, problems);
    if (backOff.baseInterval === undefined) problems.add(`${at}.retryBackOff.baseInterval`, 'is required');
    if (base !== undefined) baseMs = base;
    const max = positiveDuration(backOff.maxInterval, `${at}.retryBackOff.maxInterval`, problems);
    if (max !== undefined && base !== undefined && max < base) {
      problems.add(`${at}.retryBackOff.maxInterval`, `must be at least the base interval (${backOff.baseInterval})`);
    }
    maxMs = max;
  }

  let avoidPreviousHosts = false;
  (policy.retryHostPredicate ?? []).forEach((predicate, i) => {
    if (isExtension(predicate, PREVIOUS_HOSTS)) avoidPreviousHosts = true;
    else problems.add(`${at}.retryHostPredicate[${i}]`, `"${predicate.name}" is not a retry host predicate Weft knows (only ${PREVIOUS_HOSTS.name})`);
  });
  const priority = policy.retryPriority;
  let avoidPreviousPriorities = false;
  if (priority !== undefined && (priority.name ?? '') !== '') {
    if (isExtension(priority, PREVIOUS_PRIORITIES)) avoidPreviousPriorities = true;
    else problems.add(`${at}.retryPriority`, `"${priority.name}" is not a retry priority Weft knows (only ${PREVIOUS_PRIORITIES.name})`);
  }

  return {
    retryOn,
    numRetries: policy.numRetries ?? 1,
    perTryTimeoutMs: durationMs(policy.perTryTimeout, `${at}.perTryTimeout`, problems) ?? 0,
    retriableStatusCodes: new Set(policy.retriableStatusCodes ?? []),
    backOff: { baseMs, maxMs: maxMs ?? baseMs * 10 },
    avoidPreviousHosts,
    avoidPreviousPriorities,
    hostSelectionRetryMaxAttempts: policy.hostSelectionRetryMaxAttempts !== undefined && policy.hostSelectionRetryMaxAttempts > 0 ? policy.hostSelectionRetryMaxAttempts : 1,
  };
}

/** A back-off interval: greater than zero; under a millisecond counts as 1 ms, as in Envoy. */
function positiveDuration(text: string | undefined, at: string, problems: Problems): number | undefined {
  if (text === undefined) return undefined;
  const parsed = parseDuration(text);
  if (!parsed.ok) problems.add(at, parsed.error);
  else if (parsed.value <= 0) problems.add(at, 'must be greater than 0');
  else return Math.max(1, Math.floor(parsed.value));
  return undefined;
}

/** Envoy finds an extension by its config's type URL, else by its name. */
function isExtension(extension: { readonly name?: string; readonly typedConfig?: { readonly '@type': string } }, known: { readonly name: string; readonly type: string }): boolean {
  const type = extension.typedConfig?.['@type'];
  return type !== undefined ? type === known.type : extension.name === known.name;
}
