// Container images of apps: a Dockerfile generated per stack (or the app's own), built
// through the engine's Docker-compatible API with layer caching, and the tags around them.
export {
  defaultBaseImages,
  LOCAL_BASE_IMAGES,
  OFFICIAL_BASE_IMAGES,
  resolveBaseImages,
  type BaseImages,
} from './base-images.js';
export { APP_DIR, APP_USER, DEFAULT_DOCKERIGNORE, generateDockerfile } from './dockerfile.js';
export {
  buildImage,
  DEFAULT_IMAGE_BUILD_TIMEOUT_MS,
  GENERATED_DOCKERFILE,
  isRootUser,
  ROOT_USER_WARNING,
  type BuildImageOptions,
  type BuiltImage,
} from './build-image.js';
export {
  appImageRepository,
  buildImageTag,
  imageExists,
  releaseImageTag,
  removeImage,
  tagImage,
} from './image-refs.js';
export { listAppImages, removeAppImages, type AppImage } from './app-images.js';
