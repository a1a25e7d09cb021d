/** An error the CLI reports as one line on stderr (no stack): its message says what to do. */
export class CliError extends Error {
  constructor(
    message: string,
    /** 2 for a usage mistake (bad option, unknown command), 1 for anything else. */
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/** A usage mistake: exit code 2, and a pointer to the command's help. */
export function usageError(message: string, command?: string): CliError {
  return new CliError(`${message}\nRun \`langchain-metered ${command ? `${command} ` : ""}--help\` for usage.`, 2);
}
