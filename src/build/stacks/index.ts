// Berth's own images: stack base images (node, python) and add-on servers (postgres, redis),
// built from Debian packages with debootstrap and imported into the container engine, for
// machines where no registry can be pulled from.
export {
  buildStackImages,
  type BuildStackImagesOptions,
  type StackImageResult,
} from './build-stack-images.js';
export { findDebianMirror } from './debian-mirror.js';
export { type ImportRoute } from './import-rootfs.js';
export {
  StackBuildError,
  StackBuildFailureReasons,
  type StackBuildFailureReason,
} from './stack-build-error.js';
export {
  ADDON_IMAGE_LAYOUT,
  DEBIAN_SUITE,
  isStackName,
  STACK_IMAGES,
  STACK_NAMES,
  STACK_PATH,
  type StackName,
} from './stack-images.js';
