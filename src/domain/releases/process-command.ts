/**
 * What a process type of a release runs. A tagged union rather than a command string with
 * magic placeholders: code that starts units, serves static sites or runs an image's own CMD
 * asks `kind`, and no command a user writes can be mistaken for one of Berth's.
 * - `command`: a shell line (a Procfile entry, berth.json `processes`, `npm start`).
 * - `static`: a site the router serves from the release's build; no unit runs.
 * - `image`: the image's own CMD (a Dockerfile app); only container runtimes run it.
 */
export type ProcessCommand =
  | { readonly kind: 'command'; readonly line: string }
  | { readonly kind: 'static' }
  | { readonly kind: 'image' };

export type ProcessKind = ProcessCommand['kind'];

/** The processes of a release, by type, in declaration order. */
export type ProcessCommands = Readonly<Record<string, ProcessCommand>>;

export function shellCommand(line: string): ProcessCommand {
  return { kind: 'command', line };
}

export const STATIC_SITE: ProcessCommand = Object.freeze({ kind: 'static' });
export const IMAGE_CMD: ProcessCommand = Object.freeze({ kind: 'image' });

/**
 * A process as listings and the API show it: the command line, or `(static)` and
 * `(image CMD)` for the processes that have none of their own. For people only: code
 * compares `kind`.
 */
export function describeProcess(command: ProcessCommand): string {
  switch (command.kind) {
    case 'command':
      return command.line;
    case 'static':
      return '(static)';
    case 'image':
      return '(image CMD)';
  }
}

/** Every process of a release as listings show it (see describeProcess). */
export function describeProcesses(processes: ProcessCommands): Record<string, string> {
  const described = new Map<string, string>();
  for (const [type, command] of Object.entries(processes)) {
    described.set(type, describeProcess(command));
  }
  return Object.fromEntries(described);
}

/** Whether a process type runs units (a static site has none). */
export function runsUnits(command: ProcessCommand | undefined): boolean {
  return command !== undefined && command.kind !== 'static';
}
