import { BundleError, BundleErrorReasons } from '../bundle-error.js';
import { quote } from '../quote.js';

/** Longest path and path component Linux accepts (PATH_MAX, NAME_MAX), in UTF-8 bytes. */
const MAX_PATH_BYTES = 4096;
const MAX_COMPONENT_BYTES = 255;

// eslint-disable-next-line no-control-regex -- the point is to find control characters
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;
const DRIVE_LETTER = /^[A-Za-z]:/;

/**
 * Checks an archive entry's name and returns it normalised: '/'-separated, relative, with no
 * empty, '.' or '..' components and no trailing slash; '' for the archive's root ('./').
 * Throws BundleError for a name that could land outside the destination or that no
 * filesystem should be asked to create.
 */
export function normaliseEntryPath(name: string): string {
  const quoted = quote(name);
  if (name.includes('\\')) {
    throw new BundleError(
      BundleErrorReasons.INVALID_PATH,
      `entry ${quoted} contains a backslash; bundle paths must separate directories with '/'`,
    );
  }
  if (CONTROL_CHARACTER.test(name)) {
    throw new BundleError(
      BundleErrorReasons.INVALID_PATH,
      `entry ${quoted} contains a control character, which bundle paths may not hold`,
    );
  }
  if (name.startsWith('/') || DRIVE_LETTER.test(name)) {
    throw new BundleError(
      BundleErrorReasons.ABSOLUTE_PATH,
      `entry ${quoted} is an absolute path; bundle paths must be relative to the bundle's root`,
    );
  }
  const parts = name.split('/').filter((part) => part !== '' && part !== '.');
  if (parts.includes('..')) {
    throw new BundleError(
      BundleErrorReasons.PATH_ESCAPES,
      `entry ${quoted} escapes the bundle: bundle paths may not contain '..'`,
    );
  }
  const path = parts.join('/');
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) {
    throw new BundleError(
      BundleErrorReasons.INVALID_PATH,
      `entry ${quoted} has a path longer than ${MAX_PATH_BYTES} bytes`,
    );
  }
  if (parts.some((part) => Buffer.byteLength(part) > MAX_COMPONENT_BYTES)) {
    throw new BundleError(
      BundleErrorReasons.INVALID_PATH,
      `entry ${quoted} has a file or directory name longer than ${MAX_COMPONENT_BYTES} bytes`,
    );
  }
  return path;
}
