import type { Task } from '../engine/task.js';

/** `pgtasks --list`, laid out as invoke's. */
export function renderTaskList(tasks: Task[]): string {
  const sorted = [...tasks].sort((a, b) => a.name.localeCompare(b.name));
  const width = Math.max(...sorted.map((t) => t.name.length));
  const rows = sorted.map((t) => `  ${t.name.padEnd(width)}   ${t.help}`);
  return `Usage: pgtasks [global flags] <task> [task flags] [<task> [task flags] ...]\n\nAvailable tasks:\n\n${rows.join('\n')}\n\nRun 'pgtasks help <task>' for a task's flags, 'pgtasks --help' for the global flags (before or after the task).\n`;
}
