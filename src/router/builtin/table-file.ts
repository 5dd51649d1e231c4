import { readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../logging/index.js';
import { writeFileAtomic } from '../atomic-file.js';
import { EMPTY_ROUTE_TABLE, type RouteTable } from '../route-table.js';
import { validateRouteTable } from '../route-table-validation.js';

/** The name of the persisted table inside the router's directory. */
export const ROUTES_FILE = 'routes.json';

/**
 * Loads `<dir>/routes.json`, the table last accepted, so a restarted router serves at once
 * without waiting for the controller. A file that does not parse or validate is kept aside as
 * `routes.json.corrupt` (for a person to look at) and the router starts empty.
 */
export async function loadTableFile(dir: string, logger: Logger): Promise<RouteTable> {
  const file = path.join(dir, ROUTES_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_ROUTE_TABLE;
    throw error;
  }
  try {
    return validateRouteTable(JSON.parse(text));
  } catch (error) {
    const aside = `${file}.corrupt`;
    await rename(file, aside);
    logger.error(
      { file, keptAs: aside, reason: (error as Error).message },
      'the saved route table is unreadable; starting with an empty table',
    );
    return EMPTY_ROUTE_TABLE;
  }
}

/** Writes the table to `<dir>/routes.json` atomically (temporary file, fsync, rename). */
export async function saveTableFile(dir: string, table: RouteTable): Promise<void> {
  await writeFileAtomic(path.join(dir, ROUTES_FILE), `${JSON.stringify(table)}\n`);
}
