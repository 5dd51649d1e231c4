// ESLint rule: a module may import files of its own folder (and of the folders above it),
// but another folder only through that folder's index: one front door per folder.
import path from 'node:path';

const INDEX = /^index\.(ts|js)$/;

/** @type {import('eslint').Rule.RuleModule} */
export const frontDoorImports = {
  meta: {
    type: 'problem',
    docs: { description: 'import another folder only through its index.ts' },
    messages: {
      deep: "'{{source}}' reaches into another folder's internals; import its index.ts instead",
    },
    schema: [],
  },
  create(context) {
    const importer = context.filename;
    const importerDir = path.dirname(importer);
    function check(node) {
      const source = node.source && node.source.value;
      if (typeof source !== 'string' || !source.startsWith('.')) return;
      const target = path.resolve(importerDir, source);
      const targetDir = path.dirname(target);
      const relative = path.relative(targetDir, importerDir);
      const targetIsAncestorOrSelf = !relative.startsWith('..') && !path.isAbsolute(relative);
      if (targetIsAncestorOrSelf) return;
      if (INDEX.test(path.basename(target))) return;
      context.report({ node: node.source, messageId: 'deep', data: { source } });
    }
    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression(node) {
        if (node.source.type === 'Literal') check({ source: node.source });
      },
    };
  },
};
