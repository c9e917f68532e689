/**
 * Each sub-command's usage and one-line description, in `--help` order: all yargs needs to list
 * the commands and to match the one being run, without loading any command's module (the CLI
 * loads only the module of the command it runs; see ../start.ts). Keyed by the command's name.
 */
export const COMMAND_INFO = {
  create: { command: 'create <file> [size]', describe: 'create an image (like qemu-img create)' },
  io: {
    command: 'io <file>',
    describe: 'run qemu-io style commands against an image (like qemu-io)',
  },
  check: { command: 'check <file>', describe: 'check (and repair) an image (like qemu-img check)' },
  info: { command: 'info <file>', describe: 'show image information (like qemu-img info)' },
  map: { command: 'map <file>', describe: 'show the image mapping (like qemu-img map)' },
  bench: {
    command: 'bench',
    describe: 'run a benchmark suite (default workloads/default.json) and write results/',
  },
  run: { command: 'run', describe: 'run one case from flags and print its metrics' },
  compare: {
    command: 'compare <a> <b>',
    describe:
      'compare two results JSON files: per metric, mean ± spread over seeds, relative change',
  },
  plot: {
    command: 'plot <results>',
    describe:
      'draw the charts of a results JSON (PNG) and write <suite>.txt and <suite>.md beside it',
  },
  snapshot: {
    command: 'snapshot <file>',
    describe: 'list, create, apply or delete internal snapshots (like qemu-img snapshot)',
  },
  crash: {
    command: 'crash',
    describe:
      'record a workload, cut the power in every flush epoch (prefixes, subsets, reorderings), reopen and verify',
  },
  fuzz: {
    command: 'fuzz',
    describe:
      'mutate image metadata (seeded) and check that open/check/read/write only fail cleanly',
  },
  validate: {
    command: 'validate',
    describe:
      'run a qemu-io script in the lab and in QEMU (qemu-io under strace); compare images, maps and host I/O',
  },
  variants: {
    command: 'variants',
    describe: 'list the design variants of each format, one line each',
  },
} as const;

export type CommandName = keyof typeof COMMAND_INFO;

export const COMMAND_NAMES = Object.keys(COMMAND_INFO) as CommandName[];
