/** An extracted bundle stored once per content digest (see src/build ArtifactStore). */
export interface ArtifactRecord {
  readonly id: string;
  readonly sizeBytes: number;
  readonly fileCount: number;
}

/** What the artifacts service needs from the store. */
export interface ArtifactsState {
  /** Records the artifact unless it is already recorded. */
  register(artifact: ArtifactRecord, createdAt: string): Promise<void>;
}

/** The store's record of artifacts; releases reference them by id. */
export class ArtifactsService {
  readonly #state: ArtifactsState;
  readonly #clock: () => Date;

  constructor(options: { readonly state: ArtifactsState; readonly clock?: () => Date }) {
    this.#state = options.state;
    this.#clock = options.clock ?? (() => new Date());
  }

  register(artifact: ArtifactRecord): Promise<void> {
    return this.#state.register(artifact, this.#clock().toISOString());
  }
}
