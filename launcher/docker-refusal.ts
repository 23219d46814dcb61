import { DockerRefusedError } from '../contract/errors.js';

/**
 * A docker API error of the user's making, as a one-line error with a fix;
 * undefined for anything else (a 5xx, a broken connection: those stay internal).
 */
export function dockerRefusal(error: unknown, context: { name?: string | undefined; network?: string | undefined }): DockerRefusedError | undefined {
  const e = error as { statusCode?: number; json?: { message?: string } | null; message?: string };
  if (typeof e?.statusCode !== 'number' || e.statusCode < 400 || e.statusCode >= 500) return undefined;
  const said = (e.json?.message ?? e.message ?? '').trim().replace(/^\(HTTP code \d+\)\s*[^-]*-\s*/, '');
  if (e.statusCode === 409 && context.name && /already in use/.test(said)) {
    return new DockerRefusedError(`the container name "${context.name}" is already in use`, `pick another --name, or remove the old one: docker rm -f ${context.name} (testin down ${context.name} for a session)`, error);
  }
  if (e.statusCode === 404 && context.network && /network/.test(said)) {
    return new DockerRefusedError(`docker has no network "${context.network}"`, `create it (docker network create ${context.network}) or pick one of docker network ls`, error);
  }
  return new DockerRefusedError(`docker refused the run: ${said}`, 'check the flags against `testin run --help`', error);
}
