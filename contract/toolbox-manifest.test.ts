import { describe, expect, it } from 'vitest';
import { dockerName, modulesVolumeName, recipeVolumeName, toolboxVolumeName } from './docker-names.js';
import { readToolboxFacts, toolboxLabels, type ToolboxFacts } from './toolbox-manifest.js';

const facts: ToolboxFacts = {
  volumeName: 'testin-toolbox-0123456789abcdef',
  hash: '0123456789abcdef'.repeat(4),
  recipe: 'fedcba9876543210'.repeat(4),
  baseImage: 'debian:trixie-slim',
  kernelRelease: '6.12.117+deb13-amd64',
  modulesVolume: 'testin-modules-6.12.117_deb13-amd64-eee870698d59',
  passt: true, snapshots: true,
  testin: '0.1.0',
  guest: 'amd64',
};

describe("a toolbox's facts travel as its recipe volume's labels", () => {
  it('round-trips every fact', () => {
    expect(readToolboxFacts(toolboxLabels(facts))).toEqual(facts);
    expect(readToolboxFacts(toolboxLabels({ ...facts, passt: false }))?.passt).toBe(false);
    expect(readToolboxFacts(toolboxLabels({ ...facts, guest: 'arm64' }))?.guest).toBe('arm64');
    expect(readToolboxFacts(toolboxLabels({ ...facts, guest: 'arm64', host: 'amd64' }))).toMatchObject({ guest: 'arm64', host: 'amd64' });
  });

  it("says the engine's architecture only when its label says one (a toolbox of an earlier build has none)", () => {
    const labels = toolboxLabels({ ...facts, host: 'arm64' });
    expect(labels['testin.toolbox.host']).toBe('arm64');
    expect(readToolboxFacts(toolboxLabels(facts))?.host).toBeUndefined();
    expect(readToolboxFacts({ ...labels, 'testin.toolbox.host': 's390x' })?.host).toBeUndefined();
  });

  it('is no toolbox when a label is missing (another volume, another testin)', () => {
    const labels = toolboxLabels(facts);
    delete labels['testin.toolbox.kernel'];
    expect(readToolboxFacts(labels)).toBeUndefined();
    expect(readToolboxFacts({ 'testin.toolbox': 'x' })).toBeUndefined();
  });
});

describe('names given to docker', () => {
  it("are what docker takes: a kernel release's + becomes _", () => {
    expect(dockerName('testin-modules-6.12.117+deb13-amd64')).toBe('testin-modules-6.12.117_deb13-amd64');
    expect(dockerName('+odd')).toBe('x_odd');
    expect(modulesVolumeName('6.12.117+deb13-amd64', 'eee870698d59aaaa')).toBe('testin-modules-6.12.117_deb13-amd64-eee870698d59');
    for (const name of [toolboxVolumeName(facts.hash), recipeVolumeName(facts.recipe), modulesVolumeName(facts.kernelRelease, facts.hash)]) {
      expect(name).toMatch(/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/);
    }
  });
});
