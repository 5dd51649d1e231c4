import type { Engine } from '../../engine/index.js';
import { STACK_IMAGES } from '../stacks/index.js';
import { imageExists } from './image-refs.js';

/** The images generated Dockerfiles start FROM, one per stack that is built into an image. */
export interface BaseImages {
  readonly node: string;
  readonly python: string;
}

/**
 * The official images, the normal choice where a registry is reachable. Both are Debian
 * bookworm based like Berth's own stack images, so an app behaves the same on either.
 */
export const OFFICIAL_BASE_IMAGES: BaseImages = Object.freeze({
  node: 'node:20-slim',
  python: 'python:3.12-slim',
});

/** Berth's locally built stack images, preferred when the engine has them (no registry). */
export const LOCAL_BASE_IMAGES: BaseImages = Object.freeze({
  node: STACK_IMAGES.node,
  python: STACK_IMAGES.python,
});

const ENV_NAMES = Object.freeze({ node: 'BERTH_NODE_IMAGE', python: 'BERTH_PYTHON_IMAGE' });

/**
 * The base images named by BERTH_NODE_IMAGE / BERTH_PYTHON_IMAGE, else the official ones.
 * Needs no engine; `resolveBaseImages` also prefers local stack images the engine has.
 */
export function defaultBaseImages(env: NodeJS.ProcessEnv = process.env): BaseImages {
  return Object.freeze({
    node: env[ENV_NAMES.node]?.trim() || OFFICIAL_BASE_IMAGES.node,
    python: env[ENV_NAMES.python]?.trim() || OFFICIAL_BASE_IMAGES.python,
  });
}

/**
 * The base images to build with: the one an env variable names, else Berth's local stack
 * image when the engine has it, else the official image (which the engine pulls on first use).
 */
export async function resolveBaseImages(
  engine: Engine,
  env: NodeJS.ProcessEnv = process.env,
): Promise<BaseImages> {
  const pick = async (stack: keyof BaseImages): Promise<string> => {
    const named = env[ENV_NAMES[stack]]?.trim();
    if (named) return named;
    const local = LOCAL_BASE_IMAGES[stack];
    return (await imageExists(engine, local)) ? local : OFFICIAL_BASE_IMAGES[stack];
  };
  const [node, python] = await Promise.all([pick('node'), pick('python')]);
  return Object.freeze({ node, python });
}
