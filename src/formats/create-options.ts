import { UsageError } from '../util/errors.ts';

/**
 * Splits qemu-img's `-o key=value,key=value` (repeatable; `,,` escapes a comma in a value).
 * Later keys override earlier ones, as in QEMU.
 */
export function parseCreateOptions(texts: readonly string[]): Record<string, string> {
  const options: Record<string, string> = {};
  for (const text of texts) {
    for (const part of splitUnescaped(text)) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      if (eq <= 0) throw new UsageError(`Invalid option '${part}': expected key=value`);
      options[part.slice(0, eq)] = part.slice(eq + 1);
    }
  }
  return options;
}

function splitUnescaped(text: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === ',' && text[i + 1] === ',') {
      current += ',';
      i++;
    } else if (ch === ',') {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

/** Reads a boolean option the way QEMU does (on/off, true/false, yes/no). */
export function parseBooleanOption(key: string, value: string): boolean {
  if (['on', 'true', 'yes'].includes(value)) return true;
  if (['off', 'false', 'no'].includes(value)) return false;
  throw new UsageError(`Parameter '${key}' expects 'on' or 'off'`);
}
