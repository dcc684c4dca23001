/** Makes a switch over a discriminated union exhaustive at compile time; reaching it at run time is a bug. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`);
}
