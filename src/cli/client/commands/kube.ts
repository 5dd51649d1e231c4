// `berth kube manifests APP`: the Kubernetes objects Berth would apply for a release.
import type { Command } from 'commander';
import { appPath } from '../api-client.js';
import { requireApp } from '../app-name.js';
import { withExamples, type CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { printJson } from '../output.js';

const VERSION = /^v?(\d{1,9})$/;

export function registerKube(program: Command, context: CliContext): void {
  const kube = program
    .command('kube')
    .description('Kubernetes: what Berth would apply for an app, on any runtime');

  const manifests = kube
    .command('manifests')
    .description(
      "print a release's Kubernetes objects as YAML (config keys only: values are never printed)",
    )
    .argument('[app]', 'the app (default: --app or the berth git remote)')
    .option('-a, --app <name>', 'the app')
    .option('--release <vN>', 'the release (default: the newest)')
    .option('--registry <ref>', 'HOST[:PORT][/PREFIX] the image is pulled from')
    .option('--json', 'print the objects as JSON')
    .action(
      async (
        argument: string | undefined,
        options: { app?: string; release?: string; registry?: string; json?: boolean },
      ) => {
        const app = await requireApp(options.app, argument);
        let release: string | undefined;
        if (options.release !== undefined) {
          const match = VERSION.exec(options.release);
          if (!match) throw new UsageError(`'${options.release}' is not a release (v3 or 3)`);
          release = match[1];
        }
        const client = await context.client();
        const query = {
          release,
          registry: options.registry,
          format: options.json ? 'json' : 'yaml',
        };
        const body = await client.get<unknown>(`${appPath(app)}/kube-manifests`, query);
        if (options.json) return printJson(body);
        process.stdout.write(String(body));
      },
    );
  withExamples(
    manifests,
    'berth kube manifests shop',
    'berth kube manifests shop --release v3 --registry registry.example.com:5000/team',
    'berth kube manifests shop --json | jq ".objects[].kind"',
  );
}
