// The help of the server's commands, and the version: answered without loading the server, so
// `berth help` and `berth version` take as long as Node takes to start.
import { readFileSync } from 'node:fs';

const SERVER_OPTIONS = `berth server options (each also read from BERTH_<FLAG>, e.g. BERTH_DATABASE_URL):
  --data-dir DIR          state directory (default ~/.berth; root: /var/lib/berth)
  --listen HOST:PORT      API address (default 127.0.0.1:7100)
  --router-listen H:P     router address (default 127.0.0.1:7180)
  --ssh-listen H:P        git over SSH address (default 127.0.0.1:7122)
  --domain DOMAIN         apps answer at <app>.<domain> (default localhost)
  --runtime NAME          process | container (default process; kubernetes is to come)
  --engine-socket PATH    container runtime: the Docker/Podman API socket (default DOCKER_HOST,
                          else /var/run/docker.sock, /run/podman/podman.sock, …)
  --router NAME           builtin (the default and, in this version, the only one)
  --database-url URL      PostgreSQL store (default: SQLite in the data dir)
  --build-env-file PATH   KEY=VALUE proxies, CA files and npm_config_*/PIP_* settings for builds
  --deploy-log-limit SIZE the events each deployment keeps; older lines are dropped, counted
                          (default 4MiB; bytes, KiB, MiB or GiB, 16KiB to 1GiB)
`;

const ROUTER_OPTIONS = `berth router options (also BERTH_DATA_DIR, BERTH_ROUTER_LISTEN):
  --data-dir DIR          state directory; the router keeps its own in DIR/router
  --router-listen H:P     traffic address (default 127.0.0.1:7180)
`;

const DOWN_OPTIONS = `berth down options (also BERTH_DATA_DIR, BERTH_ENGINE_SOCKET):
  --data-dir DIR          the data dir whose controller, router and units stop
  --engine-socket PATH    the container engine's socket, only if it moved since the server
                          ran (the data dir remembers it in containers/engine.json)
`;

const STACKS_OPTIONS = `berth stacks build options:
  --engine-socket PATH    the engine's socket (also BERTH_ENGINE_SOCKET, DOCKER_HOST;
                          default: Docker's or Podman's usual socket)
  --force                 rebuild images the engine already has (default: skip them)
  --only node,python      build only these (node, python, postgres, redis)
  --mirror URL            Debian mirror (default: the one in /etc/apt/sources.list.d)
`;

/** `berth help`: every command, and the options of the server's own commands. */
export const USAGE = `Usage: berth <command> [options]

Commands:
  server      run the controller (API, change stream) on this machine
  router      run the builtin router (apps' HTTP traffic); the server starts it itself
  down        stop everything of a data dir: the controller, the router and every unit
  stacks build
              build Berth's stack base images (node, python) and add-on server images
              (postgres, redis) from Debian packages and import them into the container
              engine; needs root (debootstrap)
  version     print the version

Client commands (talk to a server's API; 'berth <command> --help' for each, docs/cli.md):
  login [SERVER]   apps   deploy [DIR]   logs   config   scale   ps   releases   rollback
  run   tokens   git:remote   open   keys   addons   kube manifests
  domains   maintenance   cron

${SERVER_OPTIONS}
${ROUTER_OPTIONS}
${DOWN_OPTIONS}
${STACKS_OPTIONS}`;

/** `berth COMMAND --help` for the server's own commands. */
export const COMMAND_USAGE = Object.freeze({
  server: `Usage: berth server [options]\n\nRuns the controller on this machine.\n\n${SERVER_OPTIONS}`,
  router: `Usage: berth router [options]\n\nRuns the builtin router in the foreground.\n\n${ROUTER_OPTIONS}`,
  down: `Usage: berth down [options]\n\nStops the controller, the router and every unit of a data dir.\n\n${DOWN_OPTIONS}`,
  stacks: `Usage: berth stacks build [options]\n\nBuilds the stack base images.\n\n${STACKS_OPTIONS}`,
} as const);

/**
 * This build's version, from package.json (two folders up from both src/cli and dist/cli).
 * The server's berthVersion reads the same file, but importing it loads the whole server.
 */
export function packageVersion(): string {
  const url = new URL('../../package.json', import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}
