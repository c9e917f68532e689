/**
 * JSON as qemu-img prints it (`--output=json`): QEMU builds a QDict and its pretty printer walks
 * the hash table bucket by bucket, so keys come out in hash order, not insertion order. Matching
 * that order lets the lab's output be compared with qemu-img's as text.
 */
const QDICT_BUCKETS = 512;

/** QEMU's tdb_hash (qobject/qdict.c), reduced to a bucket index. */
export function qdictBucket(key: string): number {
  const bytes = new TextEncoder().encode(key);
  let value = Math.imul(0x238f13af, bytes.length) >>> 0;
  for (let i = 0; i < bytes.length; i++) {
    value = (value + ((bytes[i] as number) << ((i * 5) % 24))) >>> 0;
  }
  return (((Math.imul(1103515243, value) >>> 0) + 12345) % 2 ** 32) % QDICT_BUCKETS;
}

/**
 * Keys in the order QEMU prints them: by bucket; within a bucket the key inserted last comes
 * first (entries are pushed at the head of the bucket's list).
 */
export function qdictKeyOrder(keys: readonly string[]): string[] {
  return keys
    .map((key, insertion) => ({ key, insertion, bucket: qdictBucket(key) }))
    .sort((a, b) => a.bucket - b.bucket || b.insertion - a.insertion)
    .map((e) => e.key);
}

/** Pretty JSON with QEMU's key order and 4-space indentation. */
export function formatQemuJson(value: unknown, indent = ''): string {
  const inner = `${indent}    `;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[\n]';
    return `[\n${value.map((v) => inner + formatQemuJson(v, inner)).join(',\n')}\n${indent}]`;
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>;
    const keys = qdictKeyOrder(Object.keys(record).filter((k) => record[k] !== undefined));
    if (keys.length === 0) return '{\n}';
    const lines = keys.map(
      (k) => `${inner}${JSON.stringify(k)}: ${formatQemuJson(record[k], inner)}`,
    );
    return `{\n${lines.join(',\n')}\n${indent}}`;
  }
  return JSON.stringify(value);
}
