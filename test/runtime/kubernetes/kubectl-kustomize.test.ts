// The printed manifests go through the real `kubectl kustomize` (it parses every object, as
// kubectl apply would; no API server runs here) and come out unchanged.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { generateManifests, manifestsToYaml } from '../../../src/runtime/kubernetes/index.js';
import { sampleKubeApp } from './sample-input.js';

const run = promisify(execFile);

function findKubectl(): string | undefined {
  try {
    return (
      execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

const kubectl = findKubectl();

type Keyed = { kind: string; metadata: { name: string } };
const byKindAndName = (a: Keyed, b: Keyed): number =>
  `${a.kind}/${a.metadata.name}` < `${b.kind}/${b.metadata.name}` ? -1 : 1;

describe(
  'kube manifests through kubectl kustomize',
  { skip: kubectl ? false : 'kubectl is not installed (command -v kubectl found nothing)' },
  () => {
    const dirs: string[] = [];
    after(async () => {
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    });

    it('kubectl kustomize: the printed YAML of an app with two add-ons comes out unchanged', async () => {
      const manifests = generateManifests(sampleKubeApp);
      const dir = await mkdtemp(path.join(tmpdir(), 'berth-kustomize-'));
      dirs.push(dir);
      await writeFile(
        path.join(dir, 'shop.yaml'),
        manifestsToYaml(manifests, { app: 'shop', release: 7 }),
      );
      await writeFile(
        path.join(dir, 'kustomization.yaml'),
        'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - shop.yaml\n',
      );
      const { stdout } = await run(kubectl ?? 'kubectl', ['kustomize', dir], { timeout: 60_000 });
      const out = parseAllDocuments(stdout);
      assert.ok(Array.isArray(out));
      const emitted = out.map((d) => d.toJS() as Keyed).sort(byKindAndName);
      const printed = (JSON.parse(JSON.stringify(manifests.objects)) as Keyed[]).sort(
        byKindAndName,
      );
      assert.equal(emitted.length, printed.length);
      assert.deepEqual(emitted, printed);
    });
  },
);
