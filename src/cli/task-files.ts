/** File names looked for in the working directory, as invoke looks for tasks.py. */
export const TASK_FILE_NAMES = ['pgtasks.tasks.ts', 'pgtasks.tasks.mts', 'pgtasks.tasks.js', 'pgtasks.tasks.mjs'];
