import type { AppJson } from './app-json.js';
import type { BerthJson } from './berth-json.js';
import { mergeCron } from './cron.js';
import type { Addon, CronEntry, EnvVarSpec, ProjectMetadata } from './model.js';

/** What berth.json and app.json say together, before the processes are checked. */
export interface MergedManifests {
  readonly metadata: ProjectMetadata;
  readonly env: Readonly<Record<string, EnvVarSpec>>;
  readonly addons: readonly Addon[];
  /** [type, count] for checkProcesses: berth.json's, then app.json's quantities. */
  readonly counts: readonly (readonly [string, number])[];
  /** [type, memory bytes] of app.json's sizes. */
  readonly sizes: readonly (readonly [string, number])[];
  /** Cron entries: berth.json's, then app.json's of other ids. */
  readonly cron: readonly CronEntry[];
  readonly warnings: readonly string[];
}

/**
 * berth.json wins field by field where both files say something: a metadata field, each field
 * of an env entry (berth.json's `value` stays a sample for autoconfigure; app.json's, when
 * berth.json gives none, is a default), the count of a process type, the add-on of an alias.
 * What only one file says is taken from it. An app.json formation entry of a type no process
 * declares is dropped unless it asks for units (Heroku templates often list `web: 0`).
 */
export function mergeManifests(
  berth: BerthJson | undefined,
  app: AppJson | undefined,
  declaredTypes: ReadonlySet<string>,
): MergedManifests {
  const env = new Map<string, EnvVarSpec>();
  for (const [key, spec] of app?.env ?? []) {
    env.set(key, {
      ...(spec.description !== undefined ? { description: spec.description } : {}),
      ...(spec.value !== undefined ? { default: spec.value } : {}),
      required: spec.required,
      ...(spec.generator !== undefined ? { generator: spec.generator } : {}),
    });
  }
  for (const [key, spec] of Object.entries(berth?.env ?? {})) {
    const other = env.get(key);
    const description = spec.description ?? other?.description;
    const fallback = spec.value === undefined ? other?.default : undefined;
    env.set(key, {
      ...(description !== undefined ? { description } : {}),
      ...(spec.value !== undefined ? { value: spec.value } : {}),
      ...(fallback !== undefined ? { default: fallback } : {}),
      required: spec.required ?? other?.required ?? false,
      ...(other?.generator !== undefined ? { generator: other.generator } : {}),
    });
  }

  const addons = [...(berth?.addons ?? [])];
  for (const addon of app?.addons ?? []) {
    if (!addons.some((a) => a.as === addon.as)) addons.push(addon);
  }

  const counts: (readonly [string, number])[] = [...(berth?.formation ?? [])];
  const sizes: [string, number][] = [];
  for (const [type, entry] of app?.formation ?? []) {
    if (!declaredTypes.has(type) && !(entry.quantity !== undefined && entry.quantity > 0)) continue;
    if (entry.quantity !== undefined && !counts.some(([named]) => named === type)) {
      counts.push([type, entry.quantity]);
    }
    if (entry.memoryBytes !== undefined) sizes.push([type, entry.memoryBytes]);
  }

  return {
    metadata: { ...app?.metadata, ...berth?.metadata },
    // fromEntries defines own properties, so a key like "__proto__" stays a plain key.
    env: Object.fromEntries(env),
    addons,
    counts,
    sizes,
    cron: mergeCron(berth?.cron, app?.cron),
    warnings: app?.warnings ?? [],
  };
}
