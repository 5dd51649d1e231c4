import { readFileSync } from 'node:fs';

/** This build's version, from package.json (two folders up from both src/ and dist/ files). */
export function berthVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
