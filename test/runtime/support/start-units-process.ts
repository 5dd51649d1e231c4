// Run as a child process by the tests: starts units on a runtime root, prints their statuses
// as one JSON line and waits to be killed, like a controller that dies with units running.
// Usage: start-units-process.ts <root> <artifact-dir> <app> <count>
import {
  ProcessDriver,
  RuntimeDriver,
  DEFAULT_RESTART_POLICY,
} from '../../../src/runtime/index.js';

const [root = '', artifactPath = '', app = '', count = '1'] = process.argv.slice(2);
const driver = new RuntimeDriver(
  new ProcessDriver({ root, portRange: { from: 23_000, to: 23_999 } }),
);
await driver.init();
const units = [];
for (let index = 1; index <= Number(count); index++) {
  units.push(
    await driver.start({
      id: `${app}-web-${index}`,
      app,
      release: 1,
      processType: 'web',
      index,
      command: { kind: 'exec', argv: [process.execPath, 'web.mjs'] },
      artifact: { kind: 'directory', path: artifactPath },
      env: {},
      restart: DEFAULT_RESTART_POLICY,
    }),
  );
}
process.stdout.write(`${JSON.stringify(units)}\n`);
setInterval(() => undefined, 60_000);
