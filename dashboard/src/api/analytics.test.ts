import { describe, expect, it } from "vitest";
import { distribution, headline, insights, responseTimes, trendPoints } from "./analytics";

describe("analytics readers", () => {
  it("reads trends from an items list with a time bucket", () => {
    expect(trendPoints({ items: [{ bucket: "2025-01-02T00:00:00Z", count: 3 }] })).toEqual([{ label: "2025-01-02", count: 3 }]);
  });
  it("reads distributions as objects or rows", () => {
    expect(distribution({ distribution: { positive: 2, negative: 1 } })).toEqual([
      { name: "positive", value: 2 },
      { name: "negative", value: 1 },
    ]);
    expect(distribution([{ sentiment: "neutral", count: 4 }])).toEqual([{ name: "neutral", value: 4 }]);
  });
  it("reads bot vs human percentiles", () => {
    expect(responseTimes({ bot: { p50_ms: 900, p90_ms: 2000 }, human: { p50: 60000 } })).toEqual([
      { who: "bot", p50: 900, p90: 2000 },
      { who: "human", p50: 60000 },
    ]);
  });
  it("reads insights and headline numbers, ignoring what it does not know", () => {
    const result = insights({ top_intents: [{ intent: "hours", count: 5 }], knowledge_gaps: [{ question: "Do you deliver?", count: 3, examples: ["Do you deliver?", "delivery?"] }] });
    expect(result.intents).toEqual([{ name: "hours", value: 5 }]);
    expect(result.gaps[0]).toEqual({ question: "Do you deliver?", count: 3, examples: ["Do you deliver?", "delivery?"] });
    expect(headline({ conversations: 10, label: "x", handoff_rate: { value: 0.1, previous: 0.2 } })).toEqual([
      { key: "conversations", value: 10 },
      { key: "handoff_rate", value: 0.1, previous: 0.2 },
    ]);
    expect(insights("nope")).toEqual({ intents: [], gaps: [] });
  });
});
