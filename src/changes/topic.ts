import type { ChangeEvent } from './events.js';

/**
 * Something a watcher can follow: the changes of one namespace, or of one key of it. Domain
 * services hand topics out (`apps.changes()`, `releases.changesOf(appId)`) and their state names
 * the namespace, so workers and the API compose topics and never name a table (Juju's
 * `WatchX()`). A topic is a subscription filter of every edit type.
 */
export interface ChangeTopic {
  readonly namespace: string;
  /** Only the changes of the keys it accepts; every key when unset. */
  readonly predicate?: (changed: string) => boolean;
}

/** The topic of every change to `namespace`, or (given `key`) of that key's changes only. */
export function changeTopic(namespace: string, key?: string): ChangeTopic {
  if (key === undefined) return Object.freeze({ namespace });
  return Object.freeze({ namespace, predicate: (changed: string) => changed === key });
}

/** Whether `event` is one of the changes `topic` follows. */
export function inTopic(topic: ChangeTopic, event: ChangeEvent): boolean {
  return (
    topic.namespace === event.namespace &&
    (topic.predicate === undefined || topic.predicate(event.changed))
  );
}
