// `npm run bench -- isolation`: what running a process as an app's own user costs, side by side
// in one run: `node -e 0` spawned directly, through the launcher alone (umask, rlimits,
// setpriv), and through a whole jail (its control groups made, joined and removed).
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { AppSandboxes, detectIsolation } from '../src/runtime/index.js';

const ROUNDS = 21;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
}

async function timed(run: () => unknown): Promise<number> {
  const started = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

export async function runIsolationBench(print: (line: string) => void): Promise<object> {
  const isolation = await detectIsolation();
  if (isolation.kind !== 'users') {
    print(`skipped: ${isolation.reason}`);
    return { skipped: isolation.reason };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-isolation-'));
  await chmod(dir, 0o711);
  const sandboxes = new AppSandboxes({
    isolation,
    appsRoot: path.join(dir, 'apps'),
    scopeKey: dir,
  });
  const noCgroups = new AppSandboxes({
    isolation: { ...isolation, cgroups: { kind: 'none', reason: 'bench' } },
    appsRoot: path.join(dir, 'apps'),
    scopeKey: dir,
  });
  const account = { appId: 'bench-isolation', uid: 499_999 };
  const argv = [process.execPath, '-e', '0'];
  const direct: number[] = [];
  const launcher: number[] = [];
  const jailed: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      direct.push(await timed(() => spawnSync(argv[0]!, argv.slice(1))));
      launcher.push(
        await timed(async () => {
          const jail = await noCgroups.jail(`bench-${round}`, account, undefined);
          const [file, ...args] = jail.wrap(argv);
          spawnSync(file, args);
        }),
      );
      jailed.push(
        await timed(async () => {
          const jail = await sandboxes.jail(`bench-${round}`, account, { memoryBytes: 256 << 20 });
          const [file, ...args] = jail.wrap(argv);
          spawnSync(file, args);
          await jail.release();
        }),
      );
    }
  } finally {
    await sandboxes.removeApp(account);
    await rm(dir, { recursive: true, force: true });
  }
  const figures = {
    directMs: median(direct),
    launcherMs: median(launcher),
    jailMs: median(jailed),
    cgroups: isolation.cgroups.kind,
  };
  print(`node -e 0, median of ${ROUNDS} (cgroups: ${figures.cgroups})`);
  print(`  direct                          ${figures.directMs.toFixed(1)} ms`);
  print(
    `  launcher (sh, rlimits, setpriv) ${figures.launcherMs.toFixed(1)} ms  (+${(figures.launcherMs - figures.directMs).toFixed(1)} ms, ${(figures.launcherMs / figures.directMs).toFixed(2)}x)`,
  );
  print(
    `  whole jail (+ cgroups)          ${figures.jailMs.toFixed(1)} ms  (+${(figures.jailMs - figures.directMs).toFixed(1)} ms, ${(figures.jailMs / figures.directMs).toFixed(2)}x)`,
  );
  return figures;
}
