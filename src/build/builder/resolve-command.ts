import { readPackageManifest } from './package-json.js';

/** The command node projects get by default (see project/stack.ts). */
const NPM_START = 'npm start';

/**
 * The command a unit should really run. `npm start` becomes the start script's own command
 * line: npm would add 300 ms or more to every start and sit as an extra process between the
 * runtime's SIGTERM and the app (npm does forward it, but the app's exit code and timing pass
 * through npm). What is lost: the `npm_package_*` and `npm_lifecycle_*` variables npm sets,
 * and `prestart`/`poststart` hooks, so a project that has either keeps `npm start`. PATH
 * still finds `node_modules/.bin` through runtimeEnv. Any other command, or a package.json
 * that cannot be read, gives the command back unchanged.
 */
export async function resolveCommand(dir: string, command: string): Promise<string> {
  if (command !== NPM_START) return command;
  let scripts: Readonly<Record<string, string>>;
  try {
    ({ scripts } = await readPackageManifest(dir));
  } catch {
    return command;
  }
  const start = scripts['start'];
  if (start === undefined || start.trim() === '') return command;
  if (scripts['prestart'] !== undefined || scripts['poststart'] !== undefined) return command;
  return start;
}
