// Slugs: built release directories of the process runtime, one per app and source artifact.
// A slug is built in place (Python venvs hold absolute paths) and never moves afterwards.
export { SlugStore, type SlugStoreOptions } from './slug-store.js';
