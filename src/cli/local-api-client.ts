import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliExit } from './io.ts';

/** The local API's answers, as `weft up` serves them (src/local/local-api.ts). */
export interface ProcessState {
  readonly state: string;
  readonly pid?: number;
  readonly restarts: number;
  readonly message?: string;
  readonly lastExit?: { readonly code: number | null; readonly signal: string | null };
}

export interface ReplicaState {
  readonly name: string;
  readonly address: string;
  readonly app: ProcessState;
  readonly sidecar: ProcessState;
  readonly ready: boolean;
  readonly readiness: string;
  readonly sync: string;
  readonly appPorts: Readonly<Record<string, number>>;
  readonly endpoints: Readonly<Record<string, string>>;
}

export interface MeshStatus {
  readonly workloads: readonly {
    readonly name: string;
    readonly namespace: string;
    readonly version: string;
    readonly desired: number;
    readonly replicas: readonly ReplicaState[];
  }[];
  readonly gateway?: { readonly address: string; readonly url: string; readonly sidecar: ProcessState; readonly sync: string };
  readonly controlPlane: Readonly<Record<string, string>>;
}

export interface LocalApiClient {
  get<T>(path: string): Promise<T>;
  post<T>(path: string, body: unknown): Promise<T>;
}

/** A refusal by the API: its message and, for configuration, the analyze messages. */
export class LocalApiError extends Error {
  readonly diagnostics: readonly string[];
  constructor(message: string, diagnostics: readonly string[]) {
    super(message);
    this.diagnostics = diagnostics;
  }
}

/** Reaches the mesh that `weft up` runs from `stateDir`, with the token it left there. */
export function localApiClient(stateDir: string): LocalApiClient {
  let url: string;
  let token: string;
  try {
    url = (JSON.parse(readFileSync(join(stateDir, 'mesh.json'), 'utf8')) as { api: string }).api;
    token = readFileSync(join(stateDir, 'token'), 'utf8').trim();
  } catch {
    throw new CliExit(1, `no mesh is running from ${stateDir} (start one with "weft up DIR", or give its --state-dir)`);
  }
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    let response: Response;
    try {
      response = await fetch(`${url}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
    } catch (error) {
      throw new CliExit(1, `the mesh at ${url} does not answer (${(error as Error).message}); is "weft up" still running?`);
    }
    const answer = await response.json() as { error?: string; diagnostics?: string[] };
    if (!response.ok) throw new LocalApiError(answer.error ?? `HTTP ${response.status}`, answer.diagnostics ?? []);
    return answer as T;
  };
  return {
    get: (path) => call('GET', path),
    post: (path, body) => call('POST', path, body),
  };
}
