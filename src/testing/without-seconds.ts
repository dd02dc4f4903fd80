/** A result without its timings (every field whose name mentions seconds): what two runs of one job must agree on exactly. */
export const withoutSeconds = <T>(p: T): T => JSON.parse(JSON.stringify(p, (k, v: unknown) => (/seconds/i.test(k) ? undefined : v))) as T;
