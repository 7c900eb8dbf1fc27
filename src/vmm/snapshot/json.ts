/**
 * JSON for snapshot state files: plain data plus the two kinds of value device and vCPU states hold that JSON
 * lacks, bigint (`{"$bigint": "0x..."}`) and Uint8Array (`{"$bytes": "<base64>"}`).
 */

const BIGINT = "$bigint";
const BYTES = "$bytes";

export function encodeSnapshotJson(value: unknown): string {
  return JSON.stringify(
    value,
    function replace(this: Record<string, unknown>, key: string, v: unknown): unknown {
      // `this[key]` is the value before any toJSON; a Uint8Array arrives here unconverted either way.
      const raw = key === "" ? v : this[key];
      if (typeof raw === "bigint") return { [BIGINT]: `0x${raw.toString(16)}` };
      if (raw instanceof Uint8Array) return { [BYTES]: Buffer.from(raw).toString("base64") };
      return v;
    },
    1,
  );
}

export function decodeSnapshotJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (typeof v !== "object" || v === null || Array.isArray(v)) return v;
    const record = v as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length !== 1) return v;
    const big = record[BIGINT];
    if (typeof big === "string" && /^-?0x[0-9a-f]+$/.test(big)) {
      return big.startsWith("-") ? -BigInt(big.slice(1)) : BigInt(big);
    }
    const bytes = record[BYTES];
    if (typeof bytes === "string") return new Uint8Array(Buffer.from(bytes, "base64"));
    return v;
  });
}
