import type { LogFields, Logger } from '../core/index.ts';

const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LEVELS)[number];

/** Log lines on a stream: `2026-11-23T08:00:00.000Z info  ads: proxy connected proxy=reviews-v1-1.default`. */
export function consoleLogger(options: { level: LogLevel; write: (line: string) => void; now?: () => Date; scope?: string }): Logger {
  const threshold = LEVELS.indexOf(options.level);
  const now = options.now ?? (() => new Date());
  const line = (level: LogLevel) => (message: string, fields?: LogFields) => {
    if (LEVELS.indexOf(level) < threshold) return;
    const extra = fields === undefined ? '' : Object.entries(fields).map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('');
    options.write(`${now().toISOString()} ${level.padEnd(5)} ${options.scope !== undefined ? `${options.scope}: ` : ''}${message}${extra}\n`);
  };
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

export function isLogLevel(value: string): value is LogLevel {
  return (LEVELS as readonly string[]).includes(value);
}
