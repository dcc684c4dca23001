export type LogFields = Readonly<Record<string, unknown>>;

/** Structured logging as an injected dependency; main/ decides where lines go. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}
