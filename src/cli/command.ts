/** A top-level `mailhook` command: its arguments in, its exit code out. */
export type CliCommand = (args: string[]) => Promise<number>;
