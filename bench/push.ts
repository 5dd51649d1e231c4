// Push to deploy, measured side by side in one run on the process runtime: the time from
// `git push` of a small Node app until the new release answers through the router, against
// `berth deploy` of the same directory (the CLI: bundle, upload, follow) and the runtime's
// floor (extract the same files, spawn the app, first answer), round by round.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BerthApiClient } from './berth-api-client.js';
import { startBerthServer } from '../test/support/berth-server.js';
import { bundleOf, waitForBody } from './deploy-probes.js';
import { percentile, round, tableLines } from './figures.js';
import { appFiles, floorOnce } from './runtime.js';

const ROUNDS = 5;
const BERTH_BIN = new URL('../bin/berth.js', import.meta.url).pathname;

export interface PushFigures {
  readonly pushMs: number;
  readonly cliDeployMs: number;
  readonly floorMs: number;
}

/** Runs a command to its end; rejects with its output when it fails. */
function run(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args[0]} failed:\n${output}`)),
    );
  });
}

/** Times `action` until the router answers `marker` (the action may end before or after). */
async function timedUntilAnswer(
  routerUrl: string,
  marker: string,
  action: () => Promise<void>,
): Promise<number> {
  const started = performance.now();
  const answered = waitForBody(routerUrl, 'bench.localhost', `bench ${marker}`, 120_000).then(
    () => performance.now() - started,
  );
  await action();
  return answered;
}

async function measure(print: (line: string) => void): Promise<PushFigures> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'berth-bench-push-'));
  // A root controller runs apps as users of their own, who must pass through to the data dir.
  await chmod(dir, 0o711);
  const server = await startBerthServer({
    dataDir: path.join(dir, 'data'),
    env: { BERTH_UNIT_PORTS: '47000-47999' },
  });
  const pushes: number[] = [];
  const deploys: number[] = [];
  const floors: number[] = [];
  try {
    const token = (await readFile(path.join(dir, 'data', 'initial-admin-token'), 'utf8')).trim();
    const api = new BerthApiClient(server.url, token);
    await api.expect(201, 'POST', '/apps', { name: 'bench' });
    const repo = path.join(dir, 'repo');
    const env = {
      PATH: process.env['PATH'] ?? '',
      HOME: dir,
      GIT_TERMINAL_PROMPT: '0',
      BERTH_SERVER: server.url,
      BERTH_TOKEN: token,
      XDG_CONFIG_HOME: path.join(dir, 'config'),
    };
    const git = (...args: string[]) =>
      run(
        'git',
        [
          '-c',
          'user.name=bench',
          '-c',
          'user.email=bench@localhost',
          '-c',
          'credential.helper=',
          ...args,
        ],
        { cwd: repo, env },
      );
    await run('git', ['init', '-q', '-b', 'main', repo], { cwd: dir, env });
    const remote = new URL('/git/bench.git', server.url);
    remote.username = 'bench';
    remote.password = token;
    const waitIdle = async () => {
      for (;;) {
        const reply = await api.send('GET', '/deployments/bench');
        if (reply.status === 200 || reply.status === 404) return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    // Round 0 warms every side up (the first unit, git's repository, the router's agents).
    for (let i = 0; i <= ROUNDS; i++) {
      const pushMarker = `push-${i}-${Date.now()}`;
      for (const [name, content] of Object.entries(appFiles(pushMarker))) {
        await writeFile(path.join(repo, name), content);
      }
      await git('add', '-A');
      await git('commit', '-q', '-m', pushMarker);
      const floor = await floorOnce(dir, await bundleOf(dir, appFiles(pushMarker)), pushMarker);
      const push = await timedUntilAnswer(server.routerUrl, pushMarker, () =>
        git('push', '-q', remote.toString(), 'main'),
      );
      await waitIdle();
      const deployMarker = `cli-${i}-${Date.now()}`;
      for (const [name, content] of Object.entries(appFiles(deployMarker))) {
        await writeFile(path.join(repo, name), content);
      }
      const deploy = await timedUntilAnswer(server.routerUrl, deployMarker, () =>
        run(process.execPath, [BERTH_BIN, 'deploy', repo, '--app', 'bench'], { cwd: repo, env }),
      );
      await waitIdle();
      if (i === 0) continue;
      pushes.push(push);
      deploys.push(deploy);
      floors.push(floor);
      print(
        `  round ${i}: git push ${round(push, 0)} ms, berth deploy ${round(deploy, 0)} ms, ` +
          `floor ${round(floor, 0)} ms`,
      );
    }
  } finally {
    await server.down();
    await rm(dir, { recursive: true, force: true });
  }
  const median = (values: number[]) =>
    percentile(
      [...values].sort((a, b) => a - b),
      0.5,
    );
  return { pushMs: median(pushes), cliDeployMs: median(deploys), floorMs: median(floors) };
}

export async function runPushBench(print: (line: string) => void): Promise<PushFigures> {
  print(`push to deploy: command start → the new release answers (median of ${ROUNDS})`);
  const figures = await measure(print);
  for (const line of tableLines(
    ['figure', 'measured', 'ratio to floor'],
    [
      [
        'git push → answers',
        `${round(figures.pushMs, 0)} ms`,
        `${round(figures.pushMs / figures.floorMs, 2)}x`,
      ],
      [
        'berth deploy DIR → answers',
        `${round(figures.cliDeployMs, 0)} ms`,
        `${round(figures.cliDeployMs / figures.floorMs, 2)}x`,
      ],
      ['floor: extract + spawn + answer', `${round(figures.floorMs, 0)} ms`, '1x'],
      ['git push / berth deploy', `${round(figures.pushMs / figures.cliDeployMs, 2)}x`, ''],
    ],
  )) {
    print(line);
  }
  return {
    pushMs: round(figures.pushMs, 1),
    cliDeployMs: round(figures.cliDeployMs, 1),
    floorMs: round(figures.floorMs, 1),
  };
}
