// Defensive readers of the analytics endpoints: their exact shapes may evolve, so each reader
// accepts the likely variants and returns plain rows for the charts (or nothing).

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)) ? Number(v) : null);

/** The first array found at the top level or under a usual key. */
export function rowsOf(data: unknown, keys: string[] = []): Obj[] {
  if (Array.isArray(data)) return data.filter(isObj);
  if (!isObj(data)) return [];
  for (const key of [...keys, "items", "points", "series", "data", "buckets", "rows"]) {
    const value = data[key];
    if (Array.isArray(value)) return value.filter(isObj);
  }
  return [];
}

const TIME_KEYS = ["bucket", "date", "day", "period", "time", "ts", "hour", "week", "start"];

export interface TrendPoint {
  label: string;
  [series: string]: number | string;
}

/** Time series: one row per bucket with every numeric field as a series. */
export function trendPoints(data: unknown): TrendPoint[] {
  return rowsOf(data).map((row) => {
    const timeKey = TIME_KEYS.find((k) => k in row);
    const raw = timeKey ? row[timeKey] : "";
    const label = typeof raw === "string" && /^\d{4}-\d\d-\d\d/.test(raw) ? raw.slice(0, raw.length > 10 && raw.slice(11, 16) !== "00:00" ? 16 : 10).replace("T", " ") : String(raw ?? "");
    const point: TrendPoint = { label };
    for (const [key, value] of Object.entries(row)) {
      const n = num(value);
      if (key !== timeKey && n !== null) point[key] = n;
    }
    return point;
  });
}

export function seriesKeys(points: TrendPoint[]): string[] {
  const keys = new Set<string>();
  for (const p of points) for (const k of Object.keys(p)) if (k !== "label") keys.add(k);
  return [...keys];
}

export interface NamedValue {
  name: string;
  value: number;
}

/** A distribution: `{positive: 3, …}`, `{distribution: {...}}` or `[{label|sentiment|name, count|value}]`. */
export function distribution(data: unknown, nameKeys: string[] = ["sentiment", "label", "name", "intent", "key"]): NamedValue[] {
  if (isObj(data)) {
    for (const key of ["distribution", "totals", "counts"]) {
      if (isObj(data[key])) return distribution(data[key], nameKeys);
    }
    const rows = rowsOf(data, ["distribution", "items"]);
    if (rows.length === 0) {
      return Object.entries(data)
        .map(([name, value]) => ({ name, value: num(value) ?? num(isObj(value) ? (value.count ?? value.total) : null) }))
        .filter((x): x is NamedValue => x.value !== null);
    }
    return distribution(rows, nameKeys);
  }
  return rowsOf(data).flatMap((row) => {
    const nameKey = nameKeys.find((k) => typeof row[k] === "string");
    const value = num(row.count ?? row.value ?? row.total ?? row.conversations ?? row.messages);
    return nameKey && value !== null ? [{ name: String(row[nameKey]), value }] : [];
  });
}

export interface Percentiles {
  who: string;
  p50?: number;
  p90?: number;
  p99?: number;
  avg?: number;
}

/** Bot vs human response times: `{bot: {p50, p90, p99}, human: {...}}` or rows with `author`. */
export function responseTimes(data: unknown): Percentiles[] {
  const pick = (who: string, v: unknown): Percentiles | null => {
    if (!isObj(v)) return null;
    const out: Percentiles = { who };
    for (const key of ["p50", "p90", "p99", "avg"] as const) {
      const n = num(v[key] ?? v[`${key}_ms`] ?? v[`${key}_seconds`]);
      if (n !== null) out[key] = n;
    }
    return Object.keys(out).length > 1 ? out : null;
  };
  if (isObj(data)) {
    const found = ["bot", "human", "agent"].map((who) => pick(who, data[who])).filter((x): x is Percentiles => x !== null);
    if (found.length) return found;
  }
  return rowsOf(data, ["by_author", "authors"]).flatMap((row) => {
    const who = String(row.author ?? row.who ?? row.responder ?? "");
    const p = who ? pick(who, row) : null;
    return p ? [p] : [];
  });
}

export interface Gap {
  question: string;
  count: number | null;
  examples: string[];
}

export function insights(data: unknown): { intents: NamedValue[]; gaps: Gap[] } {
  if (!isObj(data)) return { intents: [], gaps: [] };
  const intents = distribution(data.top_intents ?? data.intents ?? []);
  const gaps = rowsOf(data.knowledge_gaps ?? data.top_knowledge_gaps ?? data.gaps ?? []).map((row) => {
    const examples = Array.isArray(row.examples) ? row.examples.map((e) => (isObj(e) ? String(e.text ?? e.question ?? "") : String(e))).filter(Boolean) : [];
    const question = String(row.question ?? row.topic ?? row.text ?? row.query ?? examples[0] ?? "");
    return { question, count: num(row.count ?? row.occurrences ?? row.total), examples };
  });
  return { intents, gaps: gaps.filter((g) => g.question) };
}

/** Headline numbers of `/analytics/overview`: every numeric field (one level deep). */
export function headline(data: unknown): { key: string; value: number; previous?: number }[] {
  if (!isObj(data)) return [];
  const source = isObj(data.current) ? data.current : isObj(data.metrics) ? data.metrics : data;
  const previous = isObj(data.previous) ? data.previous : {};
  const out: { key: string; value: number; previous?: number }[] = [];
  for (const [key, value] of Object.entries(source)) {
    const n = num(value) ?? (isObj(value) ? num(value.value ?? value.current) : null);
    const prev = num(previous[key]) ?? (isObj(value) ? num(value.previous) : null);
    if (n !== null) out.push(prev !== null ? { key, value: n, previous: prev } : { key, value: n });
  }
  return out;
}
