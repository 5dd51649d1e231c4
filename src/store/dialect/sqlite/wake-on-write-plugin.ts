import type {
  KyselyPlugin,
  PluginTransformQueryArgs,
  PluginTransformResultArgs,
  QueryResult,
  RootOperationNode,
  UnknownRow,
} from 'kysely';

const WRITES = new Set(['InsertQueryNode', 'UpdateQueryNode', 'DeleteQueryNode', 'RawNode']);

/**
 * Wakes the change stream after any statement that may have written, including writes made
 * outside the transaction runner. Inside a transaction the wake-up read waits for the single
 * connection, so it runs after the commit.
 */
export class WakeOnWritePlugin implements KyselyPlugin {
  readonly #wake: () => void;
  readonly #writes = new WeakSet<object>();

  constructor(wake: () => void) {
    this.#wake = wake;
  }

  transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
    if (WRITES.has(args.node.kind)) this.#writes.add(args.queryId);
    return args.node;
  }

  transformResult(args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> {
    if (this.#writes.has(args.queryId)) this.#wake();
    return Promise.resolve(args.result);
  }
}
