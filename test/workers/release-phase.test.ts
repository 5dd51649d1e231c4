// The release phase's one-off on a real process runtime: its output as prefixed lines, and
// why it failed (an exit code, a signal, a timeout that kills it) with its last lines; and
// which phases a rollout runs, in Dokku's order. The release's artifacts are a small stand-in
// (a directory, the line as given): the builds behind them are not what this tests.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Project } from '../../src/build/index.js';
import type { Release } from '../../src/domain/releases/index.js';
import { ProcessDriver, RuntimeDriver, type UnitArtifacts } from '../../src/runtime/index.js';
import { phasesOf, runPhase } from '../../src/workers/rollout/index.js';

describe('release phase one-offs on the process runtime', () => {
  let dir: string;
  let driver: RuntimeDriver;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-release-phase-'));
    driver = new RuntimeDriver(
      new ProcessDriver({
        root: path.join(dir, 'runtime'),
        portRange: { from: 23_100, to: 23_199 },
      }),
    );
    await driver.init();
  });
  after(async () => {
    await driver.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  const artifacts: UnitArtifacts = {
    kind: 'directory',
    artifactOf: () => Promise.resolve({ kind: 'directory', path: dir }),
    commandOf: (_target, command) =>
      Promise.resolve(
        command.kind === 'command' ? { kind: 'shell', line: command.line } : { kind: 'image' },
      ),
    baseEnv: () => ({ PATH: process.env['PATH'] ?? '/usr/bin:/bin' }),
    problemOf: () => Promise.resolve(undefined),
    prune: () => Promise.resolve(),
    diskUsage: () => Promise.resolve(undefined),
  };
  const release = { version: 4, processes: {}, stack: null } as unknown as Release;
  const template = () => ({
    appName: 'phases',
    account: { appId: 'a1', uid: 65_534 },
    release,
    processType: 'run',
    slugDir: dir,
    config: { GREETING: 'hello' },
    formation: { count: 1, memory: null, memoryBytes: null, cpu: null },
    artifacts,
  });
  const run = async (line: string, timeoutMs = 10_000) => {
    const lines: string[] = [];
    const failure = await runPhase(
      driver,
      template(),
      { name: 'release', line },
      { timeoutMs, signal: new AbortController().signal, log: (text) => lines.push(text) },
    );
    return { failure, lines };
  };

  it('logs its output as lines of its own and ends well on exit 0', async () => {
    const { failure, lines } = await run('echo "v$BERTH_RELEASE says $GREETING" && echo oops >&2');
    assert.equal(failure, undefined);
    assert.equal(
      lines[0],
      'release: running echo "v$BERTH_RELEASE says $GREETING" && echo oops >&2',
    );
    assert.deepEqual(lines.slice(1, -1).sort(), ['release: oops', 'release: v4 says hello']);
    assert.match(lines.at(-1) ?? '', /^release: done in [\d.]+ s$/);
  });

  it('says why it failed, with its last lines', async () => {
    assert.equal(
      (await run('for i in 1 2 3 4 5 6 7; do echo "line $i"; done; exit 9')).failure,
      'release (for i in 1 2 3 4 5 6 7; do echo "line $i"; done; exit 9) exited with code 9; ' +
        'last output: line 3 | line 4 | line 5 | line 6 | line 7',
    );
    assert.equal(
      (await run('kill -TERM $$')).failure,
      'release (kill -TERM $$) was ended by SIGTERM',
    );
  });

  it('is killed at its timeout, with what it ran, and fails', async () => {
    const started = performance.now();
    const { failure } = await run('echo waiting; sleep 30 & wait', 400);
    assert.ok(performance.now() - started < 5000);
    assert.equal(
      failure,
      'release (echo waiting; sleep 30 & wait) did not end within 400 ms; last output: waiting',
    );
  });
});

describe('the phases of a rollout', () => {
  const project = {
    releaseCommand: 'migrate',
    scripts: { predeploy: 'pre', postdeploy: 'post', firstPostdeploy: 'seed' },
  } as unknown as Project;
  const names = (phases: { line: string }[]) => phases.map((p) => p.line);

  it('runs only the release phase for a release no deploy rolls out', () => {
    const phases = phasesOf(project, undefined);
    assert.deepEqual(names([...phases.before]), ['migrate']);
    assert.deepEqual(names([...phases.after]), []);
  });

  it("runs Dokku's scripts on each deploy, Heroku's postdeploy on the first", () => {
    assert.deepEqual(names([...phasesOf(project, { firstDeploy: false }).before]), [
      'pre',
      'migrate',
    ]);
    assert.deepEqual(names([...phasesOf(project, { firstDeploy: false }).after]), ['post']);
    assert.deepEqual(names([...phasesOf(project, { firstDeploy: true }).after]), ['post', 'seed']);
    assert.deepEqual(phasesOf(undefined, { firstDeploy: true }), { before: [], after: [] });
  });
});
