// `npm run lint` part: fails when modules under src/ import each other in a cycle (runtime
// imports only; `import type` cannot create one). Replaces eslint-plugin-import-x's no-cycle,
// whose resolver needs native packages the npm mirror of these machines does not serve.
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(process.argv[2] ?? 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

/** Relative runtime imports of a file: import/export … from '…' and import('…'), not types. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const found: string[] = [];
  const staticImport = /^\s*(import|export)\s+(?!type\b)([^'";]*?\bfrom\s+)?['"](\.[^'"]+)['"]/gm;
  for (const match of text.matchAll(staticImport)) {
    const clause = match[2] ?? '';
    // `import { type A, type B } from` is type-only too.
    const names = /\{([^}]*)\}/.exec(clause)?.[1];
    if (
      names !== undefined &&
      !/\*|\w+\s*,?\s*\{/.test(clause.replace(/\{[^}]*\}/, '')) &&
      names
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean)
        .every((n) => n.startsWith('type '))
    ) {
      continue;
    }
    if (match[3]) found.push(match[3]);
  }
  for (const match of text.matchAll(/\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g))
    if (match[1]) found.push(match[1]);
  return found.map((specifier) => {
    const target = path.resolve(path.dirname(file), specifier);
    const ts = target.replace(/\.js$/, '.ts');
    if (existsSync(ts)) return ts;
    return path.join(target, 'index.ts');
  });
}

const files = sourceFiles(root);
const graph = new Map(files.map((f) => [f, importsOf(f).filter((t) => existsSync(t))]));

// Tarjan's strongly connected components: any component of two or more files is a cycle.
let index = 0;
const indices = new Map<string, number>();
const lowlinks = new Map<string, number>();
const stack: string[] = [];
const onStack = new Set<string>();
const cycles: string[][] = [];
function connect(node: string): void {
  indices.set(node, index);
  lowlinks.set(node, index);
  index++;
  stack.push(node);
  onStack.add(node);
  for (const next of graph.get(node) ?? []) {
    if (!indices.has(next)) {
      connect(next);
      lowlinks.set(node, Math.min(lowlinks.get(node)!, lowlinks.get(next)!));
    } else if (onStack.has(next)) {
      lowlinks.set(node, Math.min(lowlinks.get(node)!, indices.get(next)!));
    }
  }
  if (lowlinks.get(node) === indices.get(node)) {
    const component: string[] = [];
    let member: string | undefined;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      component.push(member);
    } while (member !== node);
    if (component.length > 1) cycles.push(component);
  }
}
for (const file of files) if (!indices.has(file)) connect(file);

if (cycles.length > 0) {
  for (const cycle of cycles) {
    process.stderr.write(
      `import cycle among:\n${cycle.map((f) => `  ${path.relative(process.cwd(), f)}`).join('\n')}\n`,
    );
  }
  process.exit(1);
}
process.stdout.write(`no import cycles among ${files.length} modules\n`);
