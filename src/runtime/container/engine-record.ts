import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** `<containers root>/engine.json`: the engine this root's containers were made on. */
export const ENGINE_RECORD_FILE = 'engine.json';

/** What a container root remembers of its engine. */
export interface EngineRecord {
  readonly version: 1;
  /** The socket path the controller connected through. */
  readonly socket: string;
  /** `docker` or `podman`, as the engine said, for messages. */
  readonly product: string;
  readonly connectedAt: string;
}

/**
 * Writes which engine the root's units live on (0600, the controller's alone), whole (a
 * rename), each time a controller connects: `berth down` and the next controller must find
 * the same engine even when nobody names its socket again.
 */
export async function recordEngine(
  root: string,
  engine: { readonly socket: string; readonly product: string },
  now: Date = new Date(),
): Promise<void> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  const record: EngineRecord = {
    version: 1,
    socket: engine.socket,
    product: engine.product,
    connectedAt: now.toISOString(),
  };
  const file = path.join(root, ENGINE_RECORD_FILE);
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, file);
}

/** The engine a root remembers, or undefined when it has none (a root of an older Berth). */
export async function recordedEngine(root: string): Promise<EngineRecord | undefined> {
  let text: string;
  try {
    text = await readFile(path.join(root, ENGINE_RECORD_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<EngineRecord>;
    if (typeof parsed.socket !== 'string' || parsed.socket === '') return undefined;
    return {
      version: 1,
      socket: parsed.socket,
      product: typeof parsed.product === 'string' ? parsed.product : 'unknown',
      connectedAt: typeof parsed.connectedAt === 'string' ? parsed.connectedAt : '',
    };
  } catch {
    // A torn or hand-edited file: as if there were none, so the usual sockets are tried.
    return undefined;
  }
}
