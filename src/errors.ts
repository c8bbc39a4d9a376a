/**
 * A mistake the user can fix (bad inventory, unknown task, bad flag). The CLI prints only the message,
 * never a stack trace, and exits with `exitCode` (2, as usage errors do in invoke and Ansible).
 */
export class UserError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}
