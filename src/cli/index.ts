// The `berth` command line: the server's commands (server, router, down, stacks) and the
// client commands that talk to its API. bin/berth.js calls main().
export { main } from './dispatch.js';
