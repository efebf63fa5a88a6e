/**
 * The questions the conductor may need answered (a credential it cannot find, say). Only the
 * interface lives here; the CLI implements it with @inquirer/prompts (src/cli/prompter.ts), and
 * `null` means "no terminal: fail with a line naming the flag or variable instead".
 */
export interface Prompter {
  text(message: string, defaultValue?: string): Promise<string>;
  secret(message: string): Promise<string>;
  select<T extends string>(message: string, choices: Array<{ value: T; name: string; description?: string }>, defaultValue?: T): Promise<T>;
  confirm(message: string, defaultValue?: boolean): Promise<boolean>;
}
