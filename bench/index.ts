// Benchmarks: `npm run bench -- [name…] [--json]` runs the named ones (default: all) and prints
// their figures. They measure and print, never assert on timing: a slow machine fails nothing.
import { parseArgs } from 'node:util';
import { runAddonsBench } from './addons.js';
import { runApiBench } from './api.js';
import { runChangesBench } from './changes.js';
import { runContainerBench } from './container.js';
import { runDeployApiBench } from './deploy-api.js';
import { runIsolationBench } from './isolation.js';
import { runPushBench } from './push.js';
import { runRuntimeBench } from './runtime.js';

/** A benchmark prints a readable report through `print` and returns its figures for --json. */
interface Benchmark {
  readonly description: string;
  run(print: (line: string) => void): Promise<object>;
}

const benchmarks: Readonly<Record<string, Benchmark>> = Object.freeze({
  changes: {
    description: 'commit-to-watcher latency and burst delivery of the change stream',
    run: runChangesBench,
  },
  api: {
    description: 'API requests per second and p99 under load, and idle memory, on SQLite',
    run: runApiBench,
  },
  'deploy-api': {
    description:
      'deploy tasks/s on 1 and 2 controllers, and a 10 MB bundle POST → 202 → 200 (PostgreSQL)',
    run: runDeployApiBench,
  },
  runtime: {
    description:
      'deploy latency against its floor, and the builtin router against direct (process runtime)',
    run: runRuntimeBench,
  },
  push: {
    description: 'git push → answering, against berth deploy of the same directory and the floor',
    run: runPushBench,
  },
  isolation: {
    description:
      'a process started as an app user (launcher, cgroups) against spawned directly (root only)',
    run: runIsolationBench,
  },
  addons: {
    description:
      'addons create → accepting connections (postgres, redis) against the server made directly',
    run: runAddonsBench,
  },
  container: {
    description:
      'container deploys against the engine floor (build + run + answer), cold and warm cache',
    run: runContainerBench,
  },
});

const USAGE = [
  'usage: npm run bench -- [name…] [--json]',
  ...Object.entries(benchmarks).map(([name, b]) => `  ${name.padEnd(12)} ${b.description}`),
  '  --json     end with one line of JSON: the figures (of each named benchmark when several run)',
].join('\n');

function usageError(message: string): never {
  process.stderr.write(`${message}\n${USAGE}\n`);
  process.exit(2);
}

function parseCommandLine(argv: readonly string[]): { names: string[]; json: boolean } {
  const parse = () =>
    parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { json: { type: 'boolean', default: false }, help: { type: 'boolean' } },
    });
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    usageError(error instanceof Error ? error.message : String(error));
  }
  if (parsed.values.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const unknown = parsed.positionals.filter((name) => !Object.hasOwn(benchmarks, name));
  if (unknown.length > 0) usageError(`unknown benchmark: ${unknown.join(', ')}`);
  const names = parsed.positionals.length > 0 ? parsed.positionals : Object.keys(benchmarks);
  return { names: [...new Set(names)], json: parsed.values.json };
}

async function main(): Promise<void> {
  const { names, json } = parseCommandLine(process.argv.slice(2));
  const print = (line: string) => process.stdout.write(`${line}\n`);
  const results: Record<string, object> = {};
  for (const name of names) {
    const benchmark = benchmarks[name];
    if (benchmark) results[name] = await benchmark.run(print);
  }
  if (json) {
    // One benchmark's figures stand alone; several are keyed by name.
    const only = names.length === 1 && names[0] !== undefined ? results[names[0]] : undefined;
    print(JSON.stringify(only ?? results));
  }
}

try {
  await main();
} catch (error) {
  process.stderr.write(
    `bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
}
