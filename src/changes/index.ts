// The change stream and watchers: one reader of the store's change log per controller,
// fanned out to subscriptions by namespace, edit type and key (Juju 4's design).
export {
  ChangeStream,
  type ChangeStreamOptions,
  type ChangeStreamTuning,
  type PollBackoff,
} from './stream.js';
export {
  WatcherHub,
  Subscription,
  DEFAULT_BUFFER_LIMIT,
  type Subscriber,
  type SubscribeOptions,
  type SubscriptionFilter,
} from './hub.js';
export {
  KeysWatcher,
  NotifyWatcher,
  type KeysWatcherOptions,
  type NotifyWatcherOptions,
} from './watchers.js';
export { changeTopic, inTopic, type ChangeTopic } from './topic.js';
export {
  AllEdits,
  ChangeStreamStoppedError,
  EditType,
  SubscriberTooSlowError,
  type ChangeEvent,
} from './events.js';
