// The errors of the berth client: each prints as one line and maps to an exit code.

/** Exit codes of the client commands. */
export const ExitCodes = Object.freeze({ ok: 0, failure: 1, usage: 2 });

/** A failure the CLI reports as `error: <line>` with an exit code. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number = ExitCodes.failure) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** A command line that cannot run as given (exit 2). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, ExitCodes.usage);
    this.name = 'UsageError';
  }
}

/** The server answered with an error body `{error: {code, message}}` (exit 1). */
export class ApiError extends CliError {
  readonly status: number;
  readonly code: string;
  readonly reason: string | undefined;
  constructor(status: number, code: string, message: string, reason?: string) {
    super(`${code}: ${message}${reason ? ` (${reason})` : ''}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.reason = reason;
  }
}

/** The server could not be reached at all (exit 1). */
export class NetworkError extends CliError {
  readonly server: string;
  readonly causeCode: string;
  constructor(server: string, causeCode: string) {
    super(`cannot reach ${server} (${causeCode})`);
    this.name = 'NetworkError';
    this.server = server;
    this.causeCode = causeCode;
  }
}

/** No login saved and none in the environment. */
export class NotLoggedInError extends CliError {
  constructor() {
    super("not logged in: run 'berth login SERVER' or set BERTH_SERVER and BERTH_TOKEN");
    this.name = 'NotLoggedInError';
  }
}
