import { createTwoFilesPatch } from 'diff';

/** A unified diff for --diff output, as `diff -u` shows it. */
export function unifiedDiff(path: string, before: string, after: string): string {
  return createTwoFilesPatch(path, path, before, after, 'before', 'after', { context: 3 })
    .split('\n')
    .slice(2) // jsdiff's "Index:" and "====" lines, which diff -u does not print
    .join('\n');
}
