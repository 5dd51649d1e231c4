// Artifacts: content-addressed, immutable copies of source trees on local disk. A tree's id is
// the sha256 of its content, so unchanged content is stored once.
export {
  ARTIFACT_ID_PATTERN,
  ArtifactStore,
  type ArtifactStoreOptions,
  type StoredArtifact,
} from './artifact-store.js';
