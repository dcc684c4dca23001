import { execFile } from 'node:child_process';
import { err, ok, type Result } from '../../core/index.ts';

/** Runs a program (no shell) and gives its stdout, or why it failed: the command line and its stderr. */
export type CommandRunner = (command: string, args: readonly string[], input?: string) => Promise<Result<string, string>>;

/** How long one `ip`/`iptables` command may take: they finish in milliseconds unless something hangs. */
const COMMAND_TIMEOUT_MS = 15_000;

/** The system's runner: `execFile`, with `input` written to the program's stdin. */
export const runCommand: CommandRunner = (command, args, input) =>
  new Promise((resolve) => {
    const line = [command, ...args].join(' ');
    const child = execFile(command, [...args], { timeout: COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error === null) {
        resolve(ok(stdout));
        return;
      }
      const code = (error as { code?: unknown }).code;
      const how = typeof code === 'string' ? code : error.killed ? `killed after ${COMMAND_TIMEOUT_MS} ms` : `exit ${String(code ?? error.signal)}`;
      const detail = stderr.trim() || stdout.trim() || error.message;
      resolve(err(`\`${line}\` failed (${how}): ${detail}`));
    });
    // A program that exits without reading its stdin makes the write fail with EPIPE; the exit says why.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input ?? '');
  });
