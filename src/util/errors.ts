/**
 * Errors a user can cause (a corrupt image, a nonsense size, an unknown option). The CLI prints
 * `message` on one line and exits with `exitCode`; anything that is not a LabError is a bug in the
 * lab and keeps its stack trace.
 */
export class LabError extends Error {
  readonly code: string;
  readonly exitCode: number;

  constructor(code: string, message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'LabError';
    this.code = code;
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** The image's bytes are not a valid image of the format (QEMU would refuse to open it). */
export class FormatError extends LabError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'FormatError';
  }
}

/** An I/O-level failure inside a format engine: the EIO/EINVAL QEMU returns for a bad table entry. */
export class ImageIoError extends LabError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ImageIoError';
  }
}

/** A bad argument: size, option, command. */
export class UsageError extends LabError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'UsageError';
  }
}

/** Invariant check for states the lab itself must never reach. */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`internal invariant violated: ${message}`);
}
