/** Wrong command-line usage. Its message is one user-ready line; the CLI exits 2 with it. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
