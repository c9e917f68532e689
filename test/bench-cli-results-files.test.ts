import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { RESULT_COLUMNS } from '../src/bench/metrics.ts';
import { main } from '../src/cli/main.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'qedlab-bench-cli-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

const suiteFile = path.join(dir, 'small.json');
fs.writeFileSync(
  suiteFile,
  JSON.stringify({
    name: 'small',
    seeds: [5, 6],
    groups: [
      {
        name: 'g',
        formats: ['raw', 'qed'],
        workloads: [{ type: 'random', requests: 200, bs: '4k', workingSet: '1G' }],
        sizes: ['4G'],
        devices: ['nvme'],
        quick: { workloads: [{ type: 'random', requests: 20, bs: '4k' }] },
      },
    ],
  }),
);

async function run(args: string[]): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  await main(args);
  vi.restoreAllMocks();
  return { stdout, stderr };
}

describe('qedlab bench writes results/<suite>.csv and .json', () => {
  it('prints the two paths on stdout and nothing else', async () => {
    const out = path.join(dir, 'out');
    const { stdout, stderr } = await run(['bench', '--suite', suiteFile, '--out', out]);
    expect(process.exitCode ?? 0).toBe(0);
    const paths = stdout
      .trim()
      .split('\n')
      .map((p) => path.resolve(p));
    expect(paths).toEqual([path.join(out, 'small.csv'), path.join(out, 'small.json')]);
    expect(stderr).toMatch(/^small: 4 cases, 0 failed/);
    expect(fs.readdirSync(out).sort()).toEqual(['small.csv', 'small.json']);
  });

  it('the CSV has the stable column order with units in the names, one row per case', () => {
    const text = fs.readFileSync(path.join(dir, 'out', 'small.csv'), 'utf8');
    const [header] = text.split('\n');
    expect(header?.split(',')).toEqual([...RESULT_COLUMNS]);
    const rows = parseCsv(text);
    expect(rows.map((r) => r.case_id)).toEqual([
      'g/raw/random/4GiB/nvme/seed=5',
      'g/raw/random/4GiB/nvme/seed=6',
      'g/qed/random/4GiB/nvme/seed=5',
      'g/qed/random/4GiB/nvme/seed=6',
    ]);
    expect(rows.every((r) => r.guest_written_bytes === String(200 * 4096))).toBe(true);
    for (const c of RESULT_COLUMNS.filter((c) => /(_us|_ms|_bytes)$/.test(c)))
      expect(c).toMatch(/^[a-z0-9_]+$/);
  });

  it('the JSON has rows, run metadata and per-case details', () => {
    const json = JSON.parse(fs.readFileSync(path.join(dir, 'out', 'small.json'), 'utf8'));
    expect(json.schema).toBe('qedlab-results/1');
    expect(json.meta.lab_version).toMatch(/^\d+\.\d+\.\d+/);
    expect(json.meta.node_version).toBe(process.version);
    expect(json.meta.seeds).toEqual([5, 6]);
    expect(json.meta.suite.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(json.meta).toHaveProperty('git_commit');
    expect(json.rows).toHaveLength(4);
    const detail = json.details['g/qed/random/4GiB/nvme/seed=5'];
    expect(detail.histogram.reduce((s: number, b: number[]) => s + (b[2] as number), 0)).toBe(200);
    expect(detail.timeline.requests.reduce((s: number, n: number) => s + n, 0)).toBe(200);
    expect(detail.fsck_at_end.afterRequest).toBe(200);
  });

  it('--filter, --seed and --quick select and reshape the cases', async () => {
    const out = path.join(dir, 'filtered');
    await run([
      'bench',
      '--suite',
      suiteFile,
      '--out',
      out,
      '--filter',
      'format=qed',
      '--seed',
      '9',
      '--quick',
    ]);
    const json = JSON.parse(fs.readFileSync(path.join(out, 'small.json'), 'utf8'));
    expect(json.rows.map((r: { case_id: string }) => r.case_id)).toEqual([
      'g/qed/random/4GiB/nvme/seed=9',
    ]);
    expect(json.rows[0].guest_requests).toBe(20);
    expect(json.meta.options).toEqual({ quick: true, filter: ['format=qed'], seed: 9 });
  });

  it('a bad suite is a one-line error and leaves the previous results untouched', async () => {
    const before = fs.readFileSync(path.join(dir, 'out', 'small.json'), 'utf8');
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(
      bad,
      JSON.stringify({
        name: 'small',
        groups: [
          {
            name: 'g',
            formats: ['raw'],
            workloads: [{ type: 'random' }],
            sizes: ['1G'],
            devices: ['floppy'],
          },
        ],
      }),
    );
    const { stdout, stderr } = await run(['bench', '--suite', bad, '--out', path.join(dir, 'out')]);
    expect(stdout).toBe('');
    expect(stderr).toBe(
      `qedlab: ${bad}: groups[0].devices[0]: unknown device model "floppy" (known: none, hdd, sata-ssd, nvme, nvme-plp)\n`,
    );
    expect(process.exitCode).toBe(1);
    expect(fs.readFileSync(path.join(dir, 'out', 'small.json'), 'utf8')).toBe(before);
    expect(fs.readdirSync(path.join(dir, 'out')).sort()).toEqual(['small.csv', 'small.json']);
  });
});

/** RFC 4180 as csv-stringify writes it: quotes around fields with commas, quotes or newlines. */
function parseCsv(text: string): Array<Record<string, string>> {
  const records: string[][] = [];
  let field = '';
  let record: string[] = [];
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
    } else field += ch;
  }
  const [header = [], ...body] = records;
  return body.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i] ?? ''])));
}
