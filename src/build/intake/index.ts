// Bundle intake: turns an uploaded zip or tar.gz into a directory of plain files, refusing
// anything unsafe (escaping paths, links, devices, duplicates) and zip bombs.
export {
  extractBundle,
  type ExtractBundleOptions,
  type ExtractedBundle,
} from './extract-bundle.js';
export { DEFAULT_BUNDLE_LIMITS, type BundleLimits } from './limits.js';
export { type ArchiveFormat } from './archive-format.js';
