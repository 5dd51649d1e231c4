import { engineErrorStatus, type Engine } from '../../engine/index.js';
import { Labels } from './labels.js';

/**
 * Removes, killing them first, every container of `app` that this runtime root made, units and
 * one-offs alike, whatever their state; returns how many there were. Containers of another
 * root (another Berth on the same engine) and unlabelled ones are never touched.
 */
export async function removeAppContainers(
  engine: Engine,
  root: string,
  app: string,
): Promise<number> {
  const listed = await engine.listContainers({
    all: true,
    filters: { label: [`${Labels.root}=${root}`, `${Labels.app}=${app}`] },
  });
  await Promise.all(
    listed.map((info) =>
      engine
        .getContainer(info.Id)
        .remove({ force: true })
        .catch((error: unknown) => {
          if (engineErrorStatus(error) !== 404) throw error;
        }),
    ),
  );
  return listed.length;
}

/**
 * Removes the app's network unless a container is still attached to it: one of another Berth
 * on the same engine with an app of the same name (networks are named by app alone), which
 * keeps it. A network that is already gone is not an error.
 */
export async function removeAppNetwork(
  engine: Engine,
  name: string,
): Promise<'removed' | 'in use'> {
  const network = engine.getNetwork(name);
  let info: { Containers?: Record<string, unknown> };
  try {
    info = (await network.inspect()) as typeof info;
  } catch (error) {
    if (engineErrorStatus(error) === 404) return 'removed';
    throw error;
  }
  if (Object.keys(info.Containers ?? {}).length > 0) return 'in use';
  try {
    await network.remove();
  } catch (error) {
    if (engineErrorStatus(error) !== 404) throw error;
  }
  return 'removed';
}
