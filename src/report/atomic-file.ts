import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Writes a file under a temporary name in the same directory and renames it into place, so a
 * reader (or an interrupted run) sees either the previous file or the complete new one.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temporary = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    fs.writeFileSync(temporary, data);
    fs.renameSync(temporary, file);
  } catch (error) {
    fs.rmSync(temporary, { force: true });
    throw error;
  }
}
