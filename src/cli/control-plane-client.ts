import { CliExit } from './io.ts';

/**
 * Reads the control plane's debug API (JSON over HTTP). Every failure becomes a message that
 * says which address was tried, because "connection refused" alone does not tell what to start.
 */
export interface ControlPlaneClient {
  get<T>(path: string): Promise<T>;
}

export const CONTROL_PLANE_UNREACHABLE = 3;

export function httpControlPlaneClient(baseUrl: string, fetchImpl: typeof fetch = fetch): ControlPlaneClient {
  return {
    async get<T>(path: string): Promise<T> {
      const url = new URL(path, baseUrl);
      let response: Response;
      try {
        response = await fetchImpl(url, { signal: AbortSignal.timeout(10_000) });
      } catch (e) {
        throw new CliExit(CONTROL_PLANE_UNREACHABLE, `cannot reach the control plane at ${baseUrl} (${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}); start it with "weft control-plane" or pass --control-plane URL`);
      }
      if (!response.ok) {
        const body = await response.text();
        throw new CliExit(response.status === 404 ? 1 : CONTROL_PLANE_UNREACHABLE, body.trim() !== '' ? body.trim() : `${url.pathname}: HTTP ${response.status}`);
      }
      return (await response.json()) as T;
    },
  };
}
