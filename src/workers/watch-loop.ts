import { NotifyWatcher, type WatcherHub } from '../changes/index.js';
import type { Logger } from '../logging/index.js';

/**
 * Calls `onChange` once per batch of changes to any of `namespaces` (and once at the start,
 * as a watcher's first event is the initial state) until `signal` aborts. A watcher that ends
 * for another reason is logged, never thrown: the worker's periodic pass still runs.
 */
export async function watchChanges(options: {
  readonly hub: WatcherHub;
  readonly namespaces: readonly string[];
  readonly signal: AbortSignal;
  readonly logger: Logger;
  readonly onChange: () => void;
}): Promise<void> {
  const watcher = new NotifyWatcher(options.hub, {
    filters: options.namespaces.map((namespace) => ({ namespace })),
    signal: options.signal,
  });
  try {
    for await (const _change of watcher) options.onChange();
  } catch (error) {
    if (!options.signal.aborted) {
      options.logger.error(
        { err: error, namespaces: options.namespaces },
        'the watcher ended; changes are now seen by the periodic pass only',
      );
    }
  }
}
