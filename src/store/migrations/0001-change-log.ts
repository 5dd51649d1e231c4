import type { Migration } from './migration.js';

export const changeLogMigration: Migration = {
  version: 1,
  name: 'change log',
  statements: (context) => context.changeLogInfrastructure(),
};
