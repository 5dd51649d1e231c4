// Formation: how many units of each process type an app runs, and how large each is. The
// service holds the rules (counts, sizes, known process types); state holds the SQL.
export {
  FormationService,
  type FormationEntry,
  type FormationPatch,
  type FormationServiceOptions,
  type FormationState,
  type ReleaseProcesses,
} from './service.js';
export { formatMemory, MAX_UNITS_PER_TYPE, parseMemory } from './rules.js';
export { formationState } from './state.js';
