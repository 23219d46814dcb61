import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { packageRoot } from '../toolbox/own-files.js';

// the workflows are checked against GitHub's schema by `npm run lint:workflows` (action-validator);
// GitLab's lint needs its server: here, what the recipes must do, read from the files as YAML
const read = (path: string): Record<string, unknown> => parse(readFileSync(join(packageRoot(), path), 'utf8')) as Record<string, unknown>;
type Step = { run?: string; uses?: string; with?: Record<string, unknown>; if?: string };

describe('CI recipes', () => {
  it('GitHub Actions: opens /dev/kvm, caches the toolbox through save/load, runs with a report and uploads it always', () => {
    const wf = read('examples/github-actions/testin.yml') as { jobs: Record<string, { steps: Step[] }> };
    const steps = Object.values(wf.jobs)[0]?.steps ?? [];
    const runs = steps.map((s) => s.run ?? '').join('\n');
    expect(runs).toMatch(/MODE="0666".*kvm|kvm.*MODE="0666"/);
    expect(runs).toMatch(/testin toolbox load testin-toolbox\.tgz/);
    expect(runs).toMatch(/testin toolbox save testin-toolbox\.tgz/);
    expect(steps.find((s) => s.uses?.startsWith('actions/cache@'))?.with?.path).toBe('testin-toolbox.tgz');
    expect(runs).toMatch(/testin run --report testin-report\.json/);
    const upload = steps.find((s) => s.uses?.startsWith('actions/upload-artifact@'));
    expect(upload).toMatchObject({ if: 'always()', with: { path: 'testin-report.json' } });
  });

  it("GitLab CI: a job next to the engine's socket that runs testin with a report kept as an artifact", () => {
    const ci = read('examples/gitlab-ci/.gitlab-ci.yml') as Record<string, { image: string; variables: Record<string, string>; script: string[]; before_script: string[]; artifacts: { when: string; paths: string[] } }>;
    const job = ci['vm-tests'];
    expect(job?.variables.DOCKER_HOST).toBe('unix:///var/run/docker.sock');
    expect(job?.variables.TESTIN_REPORT).toBe('testin-report.json');
    expect(job?.script.some((l) => /^testin run --image /.test(l))).toBe(true);
    expect(job?.before_script.join('\n')).toMatch(/testin toolbox load .*testin toolbox save/);
    expect(job?.artifacts).toEqual({ when: 'always', paths: ['testin-report.json'] });
  });

  it("the project's workflow runs .ci/run with /dev/kvm open", () => {
    const wf = read('.github/workflows/ci.yml') as { jobs: Record<string, { 'runs-on': string; steps: Step[] }> };
    const job = Object.values(wf.jobs)[0];
    expect(job?.['runs-on']).toMatch(/^ubuntu-/);
    const runs = (job?.steps ?? []).map((s) => s.run ?? '').join('\n');
    expect(runs).toMatch(/udevadm trigger --name-match=kvm/);
    expect(runs).toMatch(/bash \.ci\/run/);
  });
});
