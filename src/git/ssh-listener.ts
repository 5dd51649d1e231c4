import type { AddressInfo } from 'node:net';
import type { GitSshServices } from './ssh-server.js';

/** Git over SSH, listening. */
export interface GitSshListener {
  readonly address: AddressInfo;
  close(): Promise<void>;
}

/**
 * Serves git over SSH on `host:port`. The server, and ssh2 with it (some 12 MB resident), is
 * loaded here, with the listener: a controller run with `--ssh-listen off` never holds it.
 */
export async function listenGitSsh(
  services: GitSshServices,
  host: string,
  port: number,
): Promise<GitSshListener> {
  const { GitSshServer } = await import('./ssh-server.js');
  const server = new GitSshServer(services);
  try {
    const address = await server.listen(host, port);
    return { address, close: () => server.close() };
  } catch (error) {
    await server.close().catch(() => undefined);
    throw error;
  }
}
