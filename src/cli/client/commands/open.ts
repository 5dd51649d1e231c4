// `berth open APP`: prints the app's URL. The API does not say which domain and router port the
// server uses, so they come from --domain/--router-port (BERTH_DOMAIN, BERTH_ROUTER_URL) or
// the server's defaults, and the command says when it guessed.
import type { Command } from 'commander';
import { appPath } from '../api-client.js';
import { requireApp } from '../app-name.js';
import { appUrl } from '../app-url.js';
import { line, note } from '../output.js';
import { withExamples, type CliContext } from '../context.js';

export function registerOpen(program: Command, context: CliContext): void {
  const open = program
    .command('open')
    .description("print the app's URL (http://<app>.<domain>:<router port>/)")
    .argument('[app]', 'the app')
    .option('-a, --app <name>', 'the app')
    .option('--domain <domain>', "the server's --domain (default: BERTH_DOMAIN, else localhost)")
    .option('--router-port <port>', "the router's port (default: from BERTH_ROUTER_URL, else 7180)")
    .action(
      async (
        argument: string | undefined,
        options: { app?: string; domain?: string; routerPort?: string },
      ) => {
        const app = await requireApp(options.app, argument);
        const client = await context.client();
        await client.get(appPath(app));
        const { url, assumed } = appUrl(app, context.env, options);
        line(url);
        if (assumed.length > 0) {
          note(
            "note: the server's API does not expose its domain or router port; assumed " +
              `${assumed.join(' and ')} (set --domain/--router-port or BERTH_DOMAIN/BERTH_ROUTER_URL)`,
          );
        }
      },
    );
  withExamples(
    open,
    'berth open shop',
    'berth open shop --domain apps.example.com --router-port 80',
  );
}
