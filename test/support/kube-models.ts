// Checks generated Kubernetes objects against kubernetes-models (k8s 1.27 schemas): its own
// validators for types and required fields, and a strict walk over the models' declared
// fields, because kubernetes-models accepts unknown (misspelled) fields.
import { createRequire } from 'node:module';
import path from 'node:path';
import ts from 'typescript';
import { StatefulSet, Deployment } from 'kubernetes-models/apps/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { Secret, Service } from 'kubernetes-models/v1';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IStatefulSet } from 'kubernetes-models/apps/v1/StatefulSet';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';

/** Every kind Berth generates: its model class and the interface that declares its fields. */
const KINDS = {
  Deployment: {
    model: Deployment,
    module: 'kubernetes-models/apps/v1/Deployment',
    type: 'IDeployment',
  },
  StatefulSet: {
    model: StatefulSet,
    module: 'kubernetes-models/apps/v1/StatefulSet',
    type: 'IStatefulSet',
  },
  Service: { model: Service, module: 'kubernetes-models/v1/Service', type: 'IService' },
  Secret: { model: Secret, module: 'kubernetes-models/v1/Secret', type: 'ISecret' },
  Ingress: {
    model: Ingress,
    module: 'kubernetes-models/networking.k8s.io/v1/Ingress',
    type: 'IIngress',
  },
  NetworkPolicy: {
    model: NetworkPolicy,
    module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
    type: 'INetworkPolicy',
  },
} as const;

export type GeneratedKind = keyof typeof KINDS;

function kindOf(object: { kind?: unknown }): GeneratedKind {
  const kind = String(object.kind);
  if (!Object.hasOwn(KINDS, kind)) throw new Error(`no model for kind '${kind}'`);
  return kind as GeneratedKind;
}

/** kubernetes-models' own validation: throws with the schema's errors. */
export function validateWithModel(object: { kind?: unknown }): void {
  const { model } = KINDS[kindOf(object)];
  // The constructors take their kind's data; the object is checked at run time, not typed.
  new (model as unknown as new (data: unknown) => { validate(): void })(object).validate();
}

interface FieldTypes {
  readonly checker: ts.TypeChecker;
  readonly roots: ReadonlyMap<GeneratedKind, ts.Type>;
}

let fieldTypes: FieldTypes | undefined;

/** The models' declaration files, loaded once through the TypeScript compiler. */
function loadFieldTypes(): FieldTypes {
  if (fieldTypes) return fieldTypes;
  const require = createRequire(import.meta.url);
  const entry = path.join(
    path.dirname(require.resolve('kubernetes-models/package.json')),
    'berth-kinds.ts',
  );
  const source = Object.entries(KINDS)
    .map(([kind, k]) => `import type { ${k.type} as ${kind} } from '${k.module}';`)
    .concat(
      `export interface Kinds { ${Object.keys(KINDS)
        .map((k) => `${k}: ${k};`)
        .join(' ')} }`,
    )
    .join('\n');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    skipLibCheck: true,
  };
  const host = ts.createCompilerHost(options);
  const readFile = host.readFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.readFile = (file) => (file === entry ? source : readFile(file));
  host.fileExists = (file) => file === entry || fileExists(file);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, language) =>
    file === entry ? ts.createSourceFile(file, source, language) : getSourceFile(file, language);
  const program = ts.createProgram([entry], options, host);
  const checker = program.getTypeChecker();
  const file = program.getSourceFile(entry);
  const kinds =
    file && checker.getSymbolAtLocation(file)?.exports?.get(ts.escapeLeadingUnderscores('Kinds'));
  if (!kinds) throw new Error('could not load the kubernetes-models declarations');
  const kindsType = checker.getDeclaredTypeOfSymbol(kinds);
  const roots = new Map<GeneratedKind, ts.Type>();
  for (const kind of Object.keys(KINDS) as GeneratedKind[]) {
    const property = kindsType.getProperty(kind);
    if (!property) throw new Error(`no declaration for ${kind}`);
    roots.set(kind, checker.getTypeOfSymbol(property));
  }
  fieldTypes = { checker, roots };
  return fieldTypes;
}

function walk(
  value: unknown,
  type: ts.Type,
  at: string,
  types: FieldTypes,
  unknown: string[],
): void {
  if (value === null || typeof value !== 'object') return;
  const { checker } = types;
  const declared = checker.getNonNullableType(type);
  const candidates = declared.isUnion() ? declared.types : [declared];
  if (Array.isArray(value)) {
    const element = candidates.map((t) => t.getNumberIndexType()).find((t) => t !== undefined);
    if (!element) {
      unknown.push(`${at}: a list where the model has ${checker.typeToString(declared)}`);
      return;
    }
    value.forEach((item, index) => walk(item, element, `${at}[${index}]`, types, unknown));
    return;
  }
  const objectType = candidates.find((t) => (t.flags & ts.TypeFlags.Object) !== 0);
  if (!objectType) {
    unknown.push(`${at}: an object where the model has ${checker.typeToString(declared)}`);
    return;
  }
  const index = objectType.getStringIndexType();
  for (const [key, field] of Object.entries(value)) {
    const property = objectType.getProperty(key);
    const fieldType = property ? checker.getTypeOfSymbol(property) : index;
    if (!fieldType) {
      unknown.push(`${at}.${key}: no such field in ${checker.typeToString(objectType)}`);
      continue;
    }
    walk(field, fieldType, `${at}.${key}`, types, unknown);
  }
}

/**
 * Every field of `object` that its kind's model does not declare (a misspelling, a field of
 * another version), as paths such as `spec.template.spec.containers[0].imagePullPolcy`.
 */
export function unknownFields(object: { kind?: unknown }): string[] {
  const types = loadFieldTypes();
  const root = types.roots.get(kindOf(object));
  if (!root) throw new Error('unreachable: every kind has a root');
  const unknown: string[] = [];
  walk(object, root, String(object.kind), types, unknown);
  return unknown;
}

/** The pod template's spec of a workload; fails the test when it has none. */
export function podSpecOf(workload: IDeployment | IStatefulSet): IPodSpec {
  const spec = workload.spec?.template.spec;
  if (!spec) throw new Error(`${workload.metadata?.name ?? 'the workload'} has no pod spec`);
  return spec;
}

/** The first (Berth's only) container of a workload. */
export function containerOf(workload: IDeployment | IStatefulSet): IContainer {
  const [container] = podSpecOf(workload).containers;
  if (!container) throw new Error(`${workload.metadata?.name ?? 'the workload'} has no container`);
  return container;
}

/** The object of `kind` and `name` among `objects`, typed as its model; fails when absent. */
export function findObject<T>(objects: readonly unknown[], kind: GeneratedKind, name: string): T {
  const found = objects.find(
    (o) =>
      (o as { kind?: unknown }).kind === kind &&
      (o as { metadata?: { name?: unknown } }).metadata?.name === name,
  );
  if (!found) throw new Error(`no ${kind} ${name} among ${objects.length} objects`);
  return found as T;
}
