/** A bench command's options: `--quick`, and `--name value` pairs from a known set. */
export interface BenchOptions {
  readonly quick: boolean;
  /** The value given for `name`, if any. */
  option(name: string): string | undefined;
  /** A number of at least 0: the value given, else `normal` (or `inQuick` with --quick). */
  number(name: string, normal: number, inQuick: number): number;
}

/** Reads `args`; an unknown option, a missing value or a bad number ends the process with the usage text. */
export function benchOptions(args: readonly string[], valued: ReadonlySet<string>, usageText: string): BenchOptions {
  const usage = (problem: string): never => {
    process.stderr.write(`${problem}\n${usageText}\n`);
    process.exit(2);
  };
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--quick') continue;
    if (!valued.has(args[i]!)) usage(`unknown option ${args[i]}`);
    if (args[++i] === undefined) usage(`${args[i - 1]} needs a value`);
  }
  const quick = args.includes('--quick');
  const option = (name: string): string | undefined => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  return {
    quick,
    option,
    number(name, normal, inQuick) {
      const value = option(name);
      if (value === undefined) return quick ? inQuick : normal;
      const parsed = Number(value);
      if (!Number.isFinite(parsed) || parsed < 0) usage(`${name} needs a number, got "${value}"`);
      return parsed;
    },
  };
}
