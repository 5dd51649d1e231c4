// The reconciler: converges each deployed app's actual units to the desired ones (its live
// release and formation), after a scale, a crash, a config change or a controller restart.
export { Reconciler, type ReconcilerOptions } from './reconciler.js';
