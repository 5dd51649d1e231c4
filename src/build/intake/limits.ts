const MiB = 1024 * 1024;

/** The zip-bomb limits of one extraction. Every field is a positive integer. */
export interface BundleLimits {
  /** Entries of any kind (files, directories), default 20,000. */
  readonly maxEntries: number;
  /** Uncompressed bytes of all files together, default 512 MiB. */
  readonly maxTotalBytes: number;
  /** Uncompressed bytes of one file, default 256 MiB. */
  readonly maxFileBytes: number;
  /** Uncompressed bytes per compressed byte, per entry and overall, default 200. */
  readonly maxCompressionRatio: number;
  /**
   * The ratio is enforced only past this many uncompressed bytes (default 1 MiB): small files
   * legitimately compress absurdly well.
   */
  readonly ratioThresholdBytes: number;
}

/** The limits applied when the caller names none. */
export const DEFAULT_BUNDLE_LIMITS: BundleLimits = Object.freeze({
  maxEntries: 20_000,
  maxTotalBytes: 512 * MiB,
  maxFileBytes: 256 * MiB,
  maxCompressionRatio: 200,
  ratioThresholdBytes: 1 * MiB,
});

/**
 * Fills in defaults and checks the caller's overrides; throws TypeError on a bad value (a
 * programming error, not the uploader's).
 */
export function compileBundleLimits(overrides: Partial<BundleLimits> = {}): BundleLimits {
  const limits = { ...DEFAULT_BUNDLE_LIMITS };
  for (const key of Object.keys(DEFAULT_BUNDLE_LIMITS) as (keyof BundleLimits)[]) {
    const value = overrides[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new TypeError(`bundle limit ${key} must be a positive integer; got ${String(value)}`);
    }
    limits[key] = value;
  }
  return Object.freeze(limits);
}

/** Bytes as a person reads them in a message: "512 MiB", "1.5 KiB", "17 bytes". */
export function describeBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 * MiB],
    ['MiB', MiB],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size) {
      const value = bytes / size;
      return `${Number.isInteger(value) ? value : value.toFixed(1)} ${unit}`;
    }
  }
  return bytes === 1 ? '1 byte' : `${bytes} bytes`;
}
