// The `berth` command line: the server and, later, the client commands that talk to the API.
// bin/berth.js calls main().
export { main } from './main.js';
