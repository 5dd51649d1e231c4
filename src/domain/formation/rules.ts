import { ErrorCodes, InputError } from '../../errors/index.js';

/** More units of one type than this is a typo, not a formation (the runtime's ports are finite). */
export const MAX_UNITS_PER_TYPE = 100;

const MIN_MEMORY_BYTES = 16 * 1024 * 1024;
const MAX_MEMORY_BYTES = 256 * 1024 * 1024 * 1024;
const MIN_CPU_MILLIS = 10;
const MAX_CPU_MILLIS = 64_000;

const UNITS: Readonly<Record<string, number>> = Object.freeze({
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
});

function invalid(message: string): InputError {
  return new InputError(message, ErrorCodes.FORMATION_INVALID);
}

/** `"256M"`, `"1G"`, `"512MiB"` or a number of bytes → bytes (binary units, as Docker reads them). */
export function parseMemory(value: string | number, processType: string): number {
  let bytes: number;
  if (typeof value === 'number') {
    bytes = value;
  } else {
    const match = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
    const unit = match ? UNITS[match[2]!.toLowerCase()] : undefined;
    if (!match || unit === undefined) {
      throw invalid(`${processType}: memory '${value}' is not a size like 256M or 1G`);
    }
    bytes = Math.round(Number(match[1]) * unit);
  }
  if (!Number.isSafeInteger(bytes) || bytes < MIN_MEMORY_BYTES || bytes > MAX_MEMORY_BYTES) {
    throw invalid(`${processType}: memory must be between 16M and 256G`);
  }
  return bytes;
}

/** Bytes → the shortest exact binary size: 268435456 → "256M". */
export function formatMemory(bytes: number): string {
  for (const [suffix, unit] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}

export function checkCount(count: number, processType: string): number {
  if (!Number.isInteger(count) || count < 0 || count > MAX_UNITS_PER_TYPE) {
    throw invalid(
      `${processType}: count must be a whole number from 0 to ${MAX_UNITS_PER_TYPE}, not ${count}`,
    );
  }
  return count;
}

/** CPUs (0.5) → thousandths (500). */
export function cpuMillis(cpus: number, processType: string): number {
  const millis = Math.round(cpus * 1000);
  if (!Number.isFinite(cpus) || millis < MIN_CPU_MILLIS || millis > MAX_CPU_MILLIS) {
    throw invalid(`${processType}: cpu must be between 0.01 and 64`);
  }
  return millis;
}
