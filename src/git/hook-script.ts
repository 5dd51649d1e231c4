/**
 * The hook files a repository runs. `pre-receive` is fixed text: it never interpolates anything
 * (ref names arrive on its stdin and go to the controller as data), and it only runs the
 * controller's client when the push came through Berth's http-backend, which sets the
 * variables; a push straight into the repository on disk is refused.
 */
export const PRE_RECEIVE_HOOK = `#!/bin/sh
# Installed by Berth: hands the pushed refs to the controller, which deploys the deploy branch.
if [ -z "$BERTH_GIT_NODE" ] || [ -z "$BERTH_GIT_HOOK_CLIENT" ]; then
  echo "berth: push through the Berth API (http://HOST:PORT/git/<app>.git)" >&2
  exit 1
fi
exec "$BERTH_GIT_NODE" "$BERTH_GIT_HOOK_CLIENT"
`;

/**
 * The hook's client (CommonJS, no dependencies, run by the controller's own node): it sends
 * the ref updates from stdin, the quarantine directory and the push options (`git push -o`) to
 * the controller's hook endpoint,
 * with the push's one-time secret, and prints what the controller streams back (NDJSON
 * `{say}` lines, then `{ok}`) on stderr, which git relays to the pusher as `remote:` lines.
 * The exit code is the verdict: non-zero keeps every ref where it was.
 */
export const HOOK_CLIENT = `'use strict';
// Berth's pre-receive client: see src/git/hook-script.ts.
const http = require('node:http');
const fail = (message) => {
  process.stderr.write('berth: ' + message + '\\n');
  process.exit(1);
};
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.on('end', () => {
  const port = Number(process.env.BERTH_GIT_HOOK_PORT);
  const secret = process.env.BERTH_GIT_PUSH_SECRET || '';
  if (!port || !secret) return fail('the controller did not say where to report this push');
  const pushOptions = [];
  for (let i = 0; i < Math.min(Number(process.env.GIT_PUSH_OPTION_COUNT) || 0, 32); i++)
    pushOptions.push(process.env['GIT_PUSH_OPTION_' + i] || '');
  const body = JSON.stringify({
    updates: input,
    quarantine: process.env.GIT_QUARANTINE_PATH || null,
    pushOptions,
  });
  const request = http.request(
    {
      host: '127.0.0.1',
      port,
      path: '/pre-receive',
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        authorization: 'Bearer ' + secret,
      },
    },
    (response) => {
      let verdict = false;
      let answered = false;
      let buffered = '';
      const handle = (line) => {
        if (!line) return;
        let message;
        try {
          message = JSON.parse(line);
        } catch {
          return;
        }
        if (typeof message.say === 'string') process.stderr.write(message.say + '\\n');
        if (typeof message.ok === 'boolean') answered = true;
        if (message.ok === true) verdict = true;
      };
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        buffered += chunk;
        let end;
        while ((end = buffered.indexOf('\\n')) >= 0) {
          handle(buffered.slice(0, end));
          buffered = buffered.slice(end + 1);
        }
      });
      // 'close' comes after 'end', and also when the controller went away mid-answer.
      response.on('close', () => {
        handle(buffered);
        if (!answered) fail('the controller stopped answering (status ' + response.statusCode + ')');
        process.exit(response.statusCode === 200 && verdict ? 0 : 1);
      });
      response.on('error', () => undefined);
    },
  );
  request.on('error', (error) => fail('cannot reach the controller: ' + error.message));
  request.end(body);
});
`;
