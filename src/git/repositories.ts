import { randomUUID } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InputError } from '../errors/index.js';
import { HOOK_CLIENT, PRE_RECEIVE_HOOK } from './hook-script.js';
import { gitBaseEnv, runGit } from './run-git.js';

/** The app a repository is for, as far as the repository store cares. */
export interface RepositoryOwner {
  readonly id: string;
  readonly name: string;
}

/** The branch whose pushes deploy, unless the app chose another. */
export const DEFAULT_DEPLOY_BRANCH = 'main';

/** A branch name Berth accepts as a deploy branch (git's own check comes after). */
const BRANCH_NAME = /^[A-Za-z0-9][A-Za-z0-9._/-]{0,99}$/;

/**
 * The cheap half of the branch-name rule, which a name read back from a repository's config
 * must also pass: the pattern, and not `HEAD` (refs/heads/HEAD is legal to git, but a branch
 * called HEAD is confused with the symbolic ref by every client).
 */
function plausibleBranch(name: string): boolean {
  return BRANCH_NAME.test(name) && name !== 'HEAD';
}

/** The file in a bare repository that names the app id it was made for. */
const APP_ID_FILE = 'berth-app-id';

/**
 * The bare repositories of the apps, `<root>/<app>.git`, made on first use. Each carries
 * Berth's pre-receive hook and the id of its app: an app destroyed and made again under the
 * same name gets a fresh repository, never the old app's history.
 */
export class GitRepositories {
  /** `<data-dir>/git`: GIT_PROJECT_ROOT of http-backend. */
  readonly root: string;
  /** The hook's client script, shared by every repository. */
  readonly hookClient: string;
  readonly #pending = new Map<string, Promise<string>>();
  #clientWritten: Promise<void> | undefined;

  constructor(options: { readonly root: string }) {
    this.root = options.root;
    this.hookClient = path.join(options.root, '.berth', 'pre-receive-client.cjs');
  }

  /** The repository's directory (it may not exist yet). */
  pathOf(app: RepositoryOwner): string {
    return path.join(this.root, `${app.name}.git`);
  }

  /** The app's repository, made (or remade for a new app of that name) when needed. */
  ensure(app: RepositoryOwner): Promise<string> {
    // One creation at a time per app, so two first pushes do not race on `git init`.
    const running = this.#pending.get(app.name);
    if (running) return running;
    const made = this.#ensure(app).finally(() => this.#pending.delete(app.name));
    this.#pending.set(app.name, made);
    return made;
  }

  async #ensure(app: RepositoryOwner): Promise<string> {
    await (this.#clientWritten ??= this.#writeClient());
    const dir = this.pathOf(app);
    const owner = await readFile(path.join(dir, APP_ID_FILE), 'utf8').catch(() => undefined);
    if (owner?.trim() === app.id) return dir;
    // Built aside and renamed into place, so a half-made repository is never served.
    const temp = path.join(this.root, `.tmp-${randomUUID()}`);
    try {
      const env = gitBaseEnv(this.root);
      await runGit(
        ['init', '--quiet', '--bare', `--initial-branch=${DEFAULT_DEPLOY_BRANCH}`, temp],
        { env },
      );
      const settings: [string, string][] = [
        ['http.receivepack', 'true'],
        // A push is a deploy, and force-pushing a rewritten or older history is a normal way
        // to deploy it; releases, not the repository, are the record of what ran.
        ['receive.denyNonFastForwards', 'false'],
        ['receive.fsckObjects', 'true'],
        // `git push -o autoconfigure` reaches the hook (GIT_PUSH_OPTION_*).
        ['receive.advertisePushOptions', 'true'],
        ['gc.auto', '0'],
      ];
      for (const [key, value] of settings) {
        await runGit(['--git-dir', temp, 'config', key, value], { env });
      }
      await rm(path.join(temp, 'hooks'), { recursive: true, force: true });
      await mkdir(path.join(temp, 'hooks'));
      await writeFile(path.join(temp, 'hooks', 'pre-receive'), PRE_RECEIVE_HOOK, { mode: 0o755 });
      await writeFile(path.join(temp, APP_ID_FILE), `${app.id}\n`);
      // Whatever is there is another app's (or a broken) repository.
      await rm(dir, { recursive: true, force: true });
      await rename(temp, dir);
      return dir;
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }

  /** The app's deploy branch (`berth.deployBranch` in its repository's config). */
  async deployBranch(app: RepositoryOwner): Promise<string> {
    const dir = await this.ensure(app);
    const value = await runGit(['--git-dir', dir, 'config', '--get', 'berth.deployBranch'], {
      env: gitBaseEnv(this.root),
    }).catch(() => '');
    // A name stored before the rule was this strict (HEAD) deploys the default instead.
    const branch = value.trim();
    return plausibleBranch(branch) ? branch : DEFAULT_DEPLOY_BRANCH;
  }

  /**
   * Sets the app's deploy branch; HEAD follows it, so a clone checks it out. InputError when
   * git would not accept it as a branch name (`git check-ref-format --branch`), or it is HEAD.
   */
  async setDeployBranch(app: RepositoryOwner, branch: string): Promise<string> {
    const env = gitBaseEnv(this.root);
    const valid =
      plausibleBranch(branch) &&
      (await runGit(['check-ref-format', '--branch', branch], { env }).then(
        () => true,
        () => false,
      ));
    if (!valid) {
      throw new InputError(
        `'${branch.slice(0, 100)}' is not a valid branch name: a deploy branch is what ` +
          `'git check-ref-format --branch' accepts, starts with a letter or digit, has at most ` +
          `100 characters of letters, digits, '.', '_', '/' and '-', and is not HEAD`,
      );
    }
    const dir = await this.ensure(app);
    await runGit(['--git-dir', dir, 'config', 'berth.deployBranch', branch], { env });
    await runGit(['--git-dir', dir, 'symbolic-ref', 'HEAD', `refs/heads/${branch}`], { env });
    return branch;
  }

  async #writeClient(): Promise<void> {
    await mkdir(path.dirname(this.hookClient), { recursive: true, mode: 0o700 });
    // Written aside and renamed: a hook running right now keeps reading the old file.
    const temp = `${this.hookClient}.${randomUUID()}`;
    await writeFile(temp, HOOK_CLIENT, { mode: 0o644 });
    await chmod(temp, 0o644);
    await rename(temp, this.hookClient);
  }
}
