// A plain HTTP GET for tests: a fresh connection each time, so a stopped unit is seen at once.
import http from 'node:http';

export interface Address {
  readonly host: string;
  readonly port: number;
}

/** GETs a path and parses the JSON body. */
export function getJson<T>(address: Address, path: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const request = http.get(
      { host: address.host, port: address.port, path, agent: false, timeout: 2000 },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => {
          try {
            resolve(JSON.parse(body) as T);
          } catch (error) {
            reject(error instanceof Error ? error : new Error(String(error)));
          }
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error('timed out')));
    request.on('error', reject);
  });
}

/** What the contract's web.mjs answers. */
export interface WebEcho {
  readonly pid: number;
  readonly env: Record<string, string>;
}
