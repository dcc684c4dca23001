import { assertNever } from '../../../core/index.ts';
import type { ResponseFlag } from '../../http/exchange.ts';
import type { UpstreamFailure } from '../../upstream/pools/index.ts';

export interface FailureReply {
  readonly status: number;
  readonly flag: ResponseFlag;
  readonly details: string;
  readonly body: string;
}

/**
 * Envoy's local reply when no response head came from upstream: 503 with the reset reason (and the
 * transport failure reason of a TLS failure) in the body and in %RESPONSE_CODE_DETAILS%
 * (`upstream_reset_before_response_started{connection_failure}`),
 * flagged UF (connect failure or timeout), UO (overflow), UR (the upstream reset the stream) or
 * UC (the connection closed).
 */
export function failureReply(failure: Exclude<UpstreamFailure, { kind: 'aborted' }>, retried: boolean): FailureReply {
  const [flag, reason] = describe(failure);
  const prefix = retried ? 'retried and the latest reset reason: ' : 'reset reason: ';
  const transport = failure.kind === 'connect-failure' ? failure.transportFailureReason : undefined;
  return {
    status: 503,
    flag,
    details: `upstream_reset_before_response_started{${reason.replaceAll(' ', '_')}${transport !== undefined ? `,${transport.replaceAll(' ', '_')}` : ''}}`,
    body: `upstream connect error or disconnect/reset before headers. ${prefix}${reason}${transport !== undefined ? `, transport failure reason: ${transport}` : ''}`,
  };
}

function describe(failure: Exclude<UpstreamFailure, { kind: 'aborted' }>): readonly [ResponseFlag, string] {
  switch (failure.kind) {
    case 'connect-failure': return ['UF', 'connection failure'];
    case 'connect-timeout': return ['UF', 'connection timeout'];
    case 'overflow': return ['UO', 'overflow'];
    case 'refused-stream': return ['UR', 'remote refused stream reset'];
    case 'reset': return failure.remote ? ['UR', 'remote reset'] : ['UC', 'connection termination'];
    default: return assertNever(failure);
  }
}
