import { err, ok, type Clock, type Result } from '../../core/index.ts';
import { TypeUrl, type ProtoJson } from '../../xds/index.ts';
import type { RouteConfiguration } from '../../xds/envoy/index.ts';
import type { ResourceHandler, ResourceUpdate } from '../xds-client/resource-handler.ts';
import { compileRouteConfiguration, type CompileRouteOptions } from './compile-route-configuration.ts';
import type { RouteTable } from './route-entry.ts';

/** One route configuration as the admin port's config_dump shows it. */
export interface RouteConfigDump {
  readonly name: string;
  /** The version of the update that last carried it. */
  readonly version: string;
  /** Milliseconds since the epoch, from the injected clock. */
  readonly lastUpdated: number;
  /** The RouteConfiguration as received (Envoy's JSON form). */
  readonly config: ProtoJson;
}

/** Told the names of the route configurations that changed (new, different, or removed). */
export type RouteTableListener = (changed: ReadonlySet<string>) => void;

export interface RouteConfigStoreOptions extends CompileRouteOptions {
  readonly clock: Clock;
}

interface Stored {
  readonly table: RouteTable;
  readonly json: string;
  readonly dump: RouteConfigDump;
}

/**
 * The proxy's RDS state: every route configuration compiled when it arrives. An update is applied
 * whole or not at all: if any configuration in it is wrong, the error (one line per problem)
 * becomes the NACK and the tables compiled before keep serving. A table is replaced by one
 * reference swap, so requests already routed keep the table they started with.
 */
export class RouteConfigStore implements ResourceHandler {
  readonly typeUrl = TypeUrl.RouteConfiguration;
  readonly #options: RouteConfigStoreOptions;
  readonly #stored = new Map<string, Stored>();
  readonly #listeners = new Set<RouteTableListener>();

  constructor(options: RouteConfigStoreOptions) {
    this.#options = options;
  }

  apply(update: ResourceUpdate): Result<void, string> {
    const compiled = new Map<string, { table: RouteTable; json: string; config: ProtoJson }>();
    const errors: string[] = [];
    for (const [name, config] of update.resources) {
      const routeConfig = config as unknown as RouteConfiguration;
      if (routeConfig.name !== undefined && routeConfig.name !== name) {
        errors.push(`RouteConfiguration "${name}": its name is "${routeConfig.name}"; a resource's name must be the one it is sent under`);
        continue;
      }
      const result = compileRouteConfiguration({ ...routeConfig, name }, this.#options);
      if (!result.ok) errors.push(result.error);
      else compiled.set(name, { table: result.value, json: JSON.stringify(config), config });
    }
    if (errors.length > 0) return err(errors.join('\n'));

    const now = this.#options.clock.now();
    const changed = new Set<string>();
    for (const [name, { table, json, config }] of compiled) {
      const previous = this.#stored.get(name);
      const same = previous !== undefined && previous.json === json;
      if (!same) changed.add(name);
      this.#stored.set(name, {
        table: same ? previous.table : table,
        json,
        dump: { name, version: update.version, lastUpdated: now, config },
      });
    }
    for (const name of update.removed) {
      if (this.#stored.delete(name)) changed.add(name);
    }
    if (changed.size > 0) for (const listener of [...this.#listeners]) listener(changed);
    return ok(undefined);
  }

  get(name: string): RouteTable | undefined {
    return this.#stored.get(name)?.table;
  }

  /** Calls `listener` after each update that changed a table; returns the way to stop. */
  subscribe(listener: RouteTableListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Every route configuration held, by name. */
  dump(): RouteConfigDump[] {
    return [...this.#stored.values()].map((s) => s.dump).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
