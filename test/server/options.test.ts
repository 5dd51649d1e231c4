// compileServerOptions: what the runtime and router flags accept and refuse, and --ssh-listen off.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileServerOptions, OptionsError } from '../../src/server/index.js';

const refusal = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof OptionsError, String(error));
  assert.match(error.message, pattern);
  assert.equal(error.message.includes('\n'), false, 'one line');
  return true;
};

describe('server options', () => {
  it('refuses a runtime or router the contract names but this version lacks, never falling back', () => {
    assert.throws(
      () => compileServerOptions({ runtime: 'kubernetes' }, {}),
      refusal(/^--runtime kubernetes is not available in this version; use process or container$/),
    );
    assert.throws(
      () => compileServerOptions({ router: 'haproxy' }, {}),
      refusal(/^--router haproxy is not available in this version; use builtin$/),
    );
    assert.throws(
      () => compileServerOptions({}, { BERTH_RUNTIME: 'kubernetes' }),
      refusal(/^--runtime kubernetes is not available/),
    );
    assert.throws(
      () => compileServerOptions({ runtime: 'vm' }, {}),
      refusal(/^--runtime must be one of process, container, kubernetes, got 'vm'$/),
    );
    assert.equal(compileServerOptions({ runtime: 'container' }, {}).runtime, 'container');
  });

  it('turns git over SSH off with --ssh-listen off, and refuses anything else that is no address', () => {
    assert.equal(compileServerOptions({ 'ssh-listen': 'off' }, {}).sshListen, undefined);
    assert.deepEqual(compileServerOptions({}, {}).sshListen, { host: '127.0.0.1', port: 7122 });
    assert.throws(
      () => compileServerOptions({ 'ssh-listen': 'no' }, {}),
      refusal(/^--ssh-listen must be HOST:PORT/),
    );
  });

  it('takes the bytes of events a deployment keeps from --deploy-log-limit or BERTH_DEPLOY_LOG_LIMIT', () => {
    assert.equal(compileServerOptions({}, {}).deployLogLimitBytes, 4 * 1024 * 1024);
    assert.equal(
      compileServerOptions({ 'deploy-log-limit': '512KiB' }, {}).deployLogLimitBytes,
      512 * 1024,
    );
    assert.equal(
      compileServerOptions({}, { BERTH_DEPLOY_LOG_LIMIT: '16mib' }).deployLogLimitBytes,
      16 * 1024 * 1024,
    );
    assert.equal(
      compileServerOptions({ 'deploy-log-limit': '65536' }, { BERTH_DEPLOY_LOG_LIMIT: '1GiB' })
        .deployLogLimitBytes,
      65_536,
      'the flag wins',
    );
    for (const value of ['4MB', '1KiB', '2GiB', '-1', '1.5MiB', 'lots'])
      assert.throws(
        () => compileServerOptions({ 'deploy-log-limit': value }, {}),
        refusal(
          /^--deploy-log-limit must be a size from 16KiB to 1GiB \(bytes, or a number with KiB, MiB or GiB\), got '/,
        ),
        value,
      );
  });
});
