import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Issues a bearer token that the control plane's CA service takes as `namespace`/`serviceAccount`. */
export type WorkloadTokenIssuer = (namespace: string, serviceAccount: string) => string;

/**
 * The sidecars' CA tokens on disk, `<dir>/<namespace>.<replica>.token` (mode 0600, directory 0700),
 * where `weft proxy --ca-token-file` reads them. The control plane keeps tokens only in memory, so
 * every start issues new ones and what an earlier run left is worthless: cleared at start, removed at stop.
 */
export class WorkloadTokenFiles {
  readonly #dir: string;
  readonly #issue: WorkloadTokenIssuer;

  constructor(dir: string, issue: WorkloadTokenIssuer) {
    this.#dir = dir;
    this.#issue = issue;
  }

  /** Removes every token file, then makes the empty directory (mode 0700). */
  reset(): void {
    rmSync(this.#dir, { recursive: true, force: true });
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    chmodSync(this.#dir, 0o700);
  }

  /** Issues a new token for the replica and writes it; returns the file's path. */
  write(namespace: string, replica: string, serviceAccount: string): string {
    const path = this.path(namespace, replica);
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    // Removed first so the mode of a new file is 0600 whatever an old one's was.
    rmSync(path, { force: true });
    writeFileSync(path, this.#issue(namespace, serviceAccount), { mode: 0o600, flag: 'wx' });
    return path;
  }

  remove(namespace: string, replica: string): void {
    rmSync(this.path(namespace, replica), { force: true });
  }

  /** Removes the directory and every token in it. */
  removeAll(): void {
    rmSync(this.#dir, { recursive: true, force: true });
  }

  path(namespace: string, replica: string): string {
    return join(this.#dir, `${namespace}.${replica}.token`);
  }
}
