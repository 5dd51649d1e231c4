// An app's URL as the router serves it. The API does not say which domain and router port the
// server uses, so they come from flags or BERTH_DOMAIN / BERTH_ROUTER_URL, else the server's
// defaults, and the caller is told which it assumed.
import { UsageError } from './errors.js';

/** The app's URL and what was assumed to make it (empty when nothing was). */
export interface AppUrl {
  readonly url: string;
  readonly assumed: readonly ('domain localhost' | 'port 7180')[];
}

/** http://<app>.<domain>:<port>/ from the flags, else the environment, else the defaults. */
export function appUrl(
  app: string,
  env: NodeJS.ProcessEnv,
  flags: { readonly domain?: string | undefined; readonly routerPort?: string | undefined } = {},
): AppUrl {
  const routerUrl = env['BERTH_ROUTER_URL'];
  let port = flags.routerPort;
  if (port === undefined && routerUrl) {
    try {
      const parsed = new URL(routerUrl);
      port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
    } catch {
      throw new UsageError(`BERTH_ROUTER_URL is not a URL: '${routerUrl}'`);
    }
  }
  if (port !== undefined && !/^\d{1,5}$/.test(port))
    throw new UsageError(`--router-port takes a port, got '${port}'`);
  const domain = flags.domain ?? env['BERTH_DOMAIN'];
  return {
    url: `http://${app}.${domain ?? 'localhost'}:${port ?? '7180'}/`,
    assumed: [
      ...(domain === undefined ? (['domain localhost'] as const) : []),
      ...(port === undefined ? (['port 7180'] as const) : []),
    ],
  };
}
