// Artifacts: the store's record of extracted bundles kept once per content digest; the files
// themselves live under <data-dir>/artifacts (src/build ArtifactStore).
export { ArtifactsService, type ArtifactRecord, type ArtifactsState } from './service.js';
export { artifactsState } from './state.js';
