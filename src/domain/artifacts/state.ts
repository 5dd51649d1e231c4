import type { Store } from '../../store/index.js';
import type { ArtifactsState } from './service.js';

/** The artifacts table. */
export function artifactsState(store: Store): ArtifactsState {
  return {
    async register(artifact, createdAt) {
      await store.transact((tx) =>
        tx
          .insertInto('artifacts')
          .values({
            id: artifact.id,
            size_bytes: artifact.sizeBytes,
            file_count: artifact.fileCount,
            created_at: createdAt,
          })
          .onConflict((oc) => oc.column('id').doNothing())
          .execute(),
      );
    },
  };
}
