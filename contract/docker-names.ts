/**
 * Docker's rule for volume and container names: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
 * A kernel release such as 6.12.117+deb13-amd64 has a '+', which docker refuses.
 */
export function dockerName(text: string): string {
  const clean = text.replace(/[^a-zA-Z0-9_.-]/g, '_');
  return /^[a-zA-Z0-9]/.test(clean) ? clean : `x${clean}`;
}

export function toolboxVolumeName(hash: string): string {
  return `testin-toolbox-${hash.slice(0, 16)}`;
}

export function modulesVolumeName(release: string, contentHash: string): string {
  return dockerName(`testin-modules-${release}-${contentHash.slice(0, 12)}`);
}

/** an empty volume whose labels say which toolbox a recipe made: created last, so it names only complete toolboxes */
export function recipeVolumeName(recipe: string): string {
  return `testin-recipe-${recipe.slice(0, 16)}`;
}
