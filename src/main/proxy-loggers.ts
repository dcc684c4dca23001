import { err, ok, type LogFields, type Logger, type Result } from '../core/index.ts';
import { LOG_LEVELS, type LogLevel } from '../proxy/admin/index.ts';
import { PROXY_LOGGER_NAMES, type ProxyLoggerName, type ProxyLoggers } from './proxy.ts';

const RANK: Readonly<Record<LogLevel, number>> = { trace: 0, debug: 1, info: 2, warning: 3, error: 4, critical: 5, off: 6 };
const LINE_RANK = { debug: RANK.debug, info: RANK.info, warn: RANK.warning, error: RANK.error } as const;

/**
 * The proxy's loggers, one per part, writing lines like the control plane's
 * (`2026-11-23T08:00:00.000Z info  config: ads: connected address=...`), each with a level that
 * `/logging` changes at run time.
 */
export function proxyLoggers(options: { readonly level: LogLevel; readonly write: (line: string) => void; readonly now?: () => Date }): ProxyLoggers {
  const levels = new Map<string, LogLevel>(PROXY_LOGGER_NAMES.map((name) => [name, options.level]));
  const now = options.now ?? (() => new Date());
  const made = new Map<string, Logger>();
  const make = (name: string): Logger => {
    const line = (kind: keyof typeof LINE_RANK) => (message: string, fields?: LogFields): void => {
      if (LINE_RANK[kind] < RANK[levels.get(name) ?? 'info']) return;
      const extra = fields === undefined ? '' : Object.entries(fields).map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join('');
      options.write(`${now().toISOString()} ${kind.padEnd(5)} ${name}: ${message}${extra}\n`);
    };
    return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
  };
  return {
    get(name: ProxyLoggerName): Logger {
      let logger = made.get(name);
      if (logger === undefined) made.set(name, (logger = make(name)));
      return logger;
    },
    levels: () => levels,
    set(logger: string | undefined, level: LogLevel): Result<void, string> {
      if (logger === undefined) {
        for (const name of levels.keys()) levels.set(name, level);
        return ok(undefined);
      }
      if (!levels.has(logger)) return err(`unknown logger "${logger}" (the loggers are ${[...levels.keys()].join(', ')})`);
      levels.set(logger, level);
      return ok(undefined);
    },
  };
}

export function isProxyLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}
