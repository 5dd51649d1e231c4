// Benchmarks that measure a server's memory measure it as an installed Berth runs: from
// dist/, not through tsx (whose compiler alone holds tens of MB). dist/ is built here when it
// is missing or older than the sources.
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    const time = entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs;
    if (time > newest) newest = time;
  }
  return newest;
}

/** Builds dist/ if it is not current; returns the environment that runs `berth` from it. */
export function compiledBerthEnv(): Record<string, string> {
  const entry = path.join(ROOT, 'dist', 'cli', 'index.js');
  let built = 0;
  try {
    built = statSync(entry).mtimeMs;
  } catch {
    // not built yet
  }
  if (built < newestMtime(path.join(ROOT, 'src'))) {
    process.stderr.write('bench: building dist/ (npm run build)…\n');
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  }
  return { BERTH_FROM_DIST: '1' };
}
