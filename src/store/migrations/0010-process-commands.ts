import type { Migration } from './migration.js';

/** The placeholders releases held before processes were a tagged union. */
const STATIC_PLACEHOLDER = "'(static)'";
const IMAGE_PLACEHOLDER = "'(image CMD)'";

export const processCommandsMigration: Migration = {
  version: 10,
  name: 'process commands',
  // A release's processes were `{type: "command line"}`, with the strings '(static)' and
  // '(image CMD)' standing for a static site and an image's own CMD. They become
  // `{type: {kind: 'command', line} | {kind: 'static'} | {kind: 'image'}}`, in the same order
  // (the order processes were declared in). Rewritten in SQL, in the migration's transaction,
  // so that no release is ever read in the old shape by this Berth.
  statements: ({ dialect }) => [
    dialect === 'postgres'
      ? {
          sql:
            'update releases set processes = coalesce((' +
            'select (json_object_agg(e.key, case e.value ' +
            `when ${STATIC_PLACEHOLDER} then json_build_object('kind', 'static') ` +
            `when ${IMAGE_PLACEHOLDER} then json_build_object('kind', 'image') ` +
            "else json_build_object('kind', 'command', 'line', e.value) end " +
            'order by e.ordinality))::text ' +
            'from json_each_text(releases.processes::json) with ordinality as e(key, value, ordinality)' +
            "), '{}')",
        }
      : {
          sql:
            'update releases set processes = coalesce((' +
            'select json_group_object(e.key, json(case e.value ' +
            `when ${STATIC_PLACEHOLDER} then '{"kind":"static"}' ` +
            `when ${IMAGE_PLACEHOLDER} then '{"kind":"image"}' ` +
            "else json_object('kind', 'command', 'line', e.value) end)) " +
            'from json_each(releases.processes) as e' +
            "), '{}')",
        },
  ],
};
