/**
 * The problems found while compiling one route configuration, each with the field's path
 * (`virtualHosts[0].routes[2].match.safeRegex.regex`) after a prefix naming what it belongs to.
 */
export class Problems {
  readonly #lines: string[];
  readonly #prefix: string;

  constructor(prefix: string, lines: string[] = []) {
    this.#prefix = prefix;
    this.#lines = lines;
  }

  add(path: string, message: string): void {
    this.#lines.push(`${this.#prefix}${path}: ${message}`);
  }

  /** Problems recorded with another prefix into the same list. */
  withPrefix(prefix: string): Problems {
    return new Problems(prefix, this.#lines);
  }

  get count(): number {
    return this.#lines.length;
  }

  text(): string {
    return this.#lines.join('\n');
  }
}
