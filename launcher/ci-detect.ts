/**
 * Whether this process runs in CI, as CI systems say it: CI set to anything
 * but an explicit no (GitHub, GitLab, Buildkite, CircleCI, Travis set
 * CI=true; some set CI=1), or a system's own variable where it sets no CI
 * (Jenkins, Azure Pipelines, TeamCity). In CI a missing engine fails the
 * tests instead of skipping them.
 */
const OWN_VARIABLES = ['JENKINS_URL', 'TF_BUILD', 'TEAMCITY_VERSION', 'GITHUB_ACTIONS', 'GITLAB_CI', 'BUILDKITE', 'CIRCLECI'];

export function isCI(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  const ci = env.CI?.trim().toLowerCase();
  if (ci !== undefined && ci !== '') return !['false', '0', 'no', 'off'].includes(ci);
  return OWN_VARIABLES.some((name) => (env[name] ?? '') !== '');
}

/** In CI a part the tests need that is missing is an error, never a skip. */
export function failInCI(why: string, env: Readonly<Record<string, string | undefined>> = process.env): void {
  if (why && isCI(env)) throw new Error(`testin: ${why} (in CI this is an error, not a skip)`);
}
