/** What a command may touch of the outside world; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Reads all of standard input; used for `-f -`. */
  readonly readStdin: () => string;
  readonly cwd: string;
}

/** Thrown by a command to end with an exit status; the composition root turns it into process.exitCode. */
export class CliExit extends Error {
  readonly status: number;
  constructor(status: number, message = '') {
    super(message);
    this.status = status;
  }
}

/** Exit statuses shared by every command. */
export const ExitStatus = {
  ok: 0,
  usage: 2,
  /** istioctl analyze's status when it finds issues at or above the failure threshold. */
  analysisFailed: 79,
} as const;
