// The compiled server options with no flag and no variable set: what tests that build a
// component themselves pass it, so that defaults are written once, in src/server/options.ts.
import { compileServerOptions, type ServerOptions } from '../../src/server/index.js';

export const compiledDefaults: ServerOptions = compileServerOptions({}, {});
