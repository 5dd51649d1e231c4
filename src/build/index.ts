// The build side of a deployment, independent of the store: bundle intake (zip-bomb and path
// checks), project reading (berth.json, Procfile, stack), artifacts, slugs and container images.
export { BundleError, BundleErrorReasons, type BundleErrorReason } from './bundle-error.js';
export {
  DEFAULT_BUNDLE_LIMITS,
  extractBundle,
  type ArchiveFormat,
  type BundleLimits,
  type ExtractBundleOptions,
  type ExtractedBundle,
} from './intake/index.js';
export {
  ADDONS,
  BERTH_JSON_MAX_BYTES,
  ENV_KEY_PATTERN,
  HEALTHCHECK_DEFAULTS,
  IMAGE_COMMAND,
  MAX_COMMAND_LENGTH,
  PROCESS_TYPE_PATTERN,
  PROCFILE_MAX_BYTES,
  readProject,
  STATIC_COMMAND,
  Stacks,
  type Addon,
  type EnvVarSpec,
  type Healthcheck,
  type ProcessSource,
  type Project,
  type ProjectMetadata,
  type Stack,
} from './project/index.js';
export {
  ARTIFACT_ID_PATTERN,
  ArtifactStore,
  type ArtifactStoreOptions,
  type StoredArtifact,
} from './artifacts/index.js';
export { SlugStore, type SlugStoreOptions } from './slugs/index.js';
export {
  BuildFailure,
  BuildFailureReasons,
  buildSlug,
  DEFAULT_BASE_PATH,
  KILL_GRACE_MS,
  LAST_LINES,
  MAX_LINE_LENGTH,
  resolveCommand,
  runtimeEnv,
  VENV_DIR,
  type BuildCommandResult,
  type BuildFailureReason,
  type BuildResult,
  type BuildSlugOptions,
} from './builder/index.js';
export {
  APP_DIR,
  appImageRepository,
  buildImage,
  DEFAULT_DOCKERIGNORE,
  DEFAULT_IMAGE_BUILD_TIMEOUT_MS,
  defaultBaseImages,
  GENERATED_DOCKERFILE,
  generateDockerfile,
  imageExists,
  LOCAL_BASE_IMAGES,
  OFFICIAL_BASE_IMAGES,
  removeImage,
  resolveBaseImages,
  tagImage,
  type BaseImages,
  type BuildImageOptions,
  type BuiltImage,
} from './image/index.js';
