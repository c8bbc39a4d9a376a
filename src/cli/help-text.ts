/**
 * A task's description is written hard-wrapped in its source file; commander then wraps every line
 * again to the terminal's width, which breaks sentences at the source's line ends. One line per
 * paragraph lets commander wrap each paragraph as a whole. Blank lines still separate paragraphs, and
 * lines that start a list item (`- `, `* `, `1. `) or are indented stay lines of their own.
 */
export function unwrapParagraphs(text: string): string {
  const out: string[] = [];
  for (const line of text.trim().split('\n')) {
    const previous = out.length ? out[out.length - 1]! : '';
    const startsOwnLine = line.trim() === '' || previous === '' || /^\s|^([-*]|\d+\.)\s/.test(line);
    if (startsOwnLine) out.push(line.trim() === '' ? '' : line.trimEnd());
    else out[out.length - 1] = `${previous} ${line.trim()}`;
  }
  return out.join('\n');
}
