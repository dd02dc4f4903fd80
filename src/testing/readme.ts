/**
 * README.md's code examples, for tests that run them verbatim: the fenced block that follows a
 * `<!-- doc-test: NAME -->` comment (invisible on the rendered page).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root (dist/testing/ → ../../). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function readmeSnippet(name: string): string {
  const text = readFileSync(`${REPO_ROOT}README.md`, 'utf8');
  const m = new RegExp(`<!-- doc-test: ${name} -->\\s*\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\``).exec(text);
  if (m === null) throw new Error(`README.md: no code block after <!-- doc-test: ${name} -->`);
  return m[1] as string;
}
