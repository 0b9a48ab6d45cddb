import { describe, expect, it, vi } from "vitest";
import { ApiClient, ApiError, fieldErrors, type TokenStore } from "./client";
import { SseParser } from "./sse";

function memoryStore(initial: string | null = null): TokenStore {
  let value = initial;
  return { load: () => value, save: (v) => (value = v) };
}

const json = (body: unknown, status = 200) => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
const pair = (n: number) => ({ access_token: `access-${n}`, refresh_token: `refresh-${n}`, expires_in: 900 });

describe("ApiClient", () => {
  it("logs in, sends the bearer token and keeps the refresh token", async () => {
    const store = memoryStore();
    const fetch = vi.fn<typeof globalThis.fetch>().mockResolvedValueOnce(json(pair(1))).mockResolvedValueOnce(json({ email: "a@b.c" }));
    const client = new ApiClient({ fetch, store });
    await client.login("a@b.c", "pw");
    expect(await client.get("/auth/me")).toEqual({ email: "a@b.c" });
    const [url, init] = fetch.mock.calls[1]!;
    expect(url).toBe("/api/v1/auth/me");
    expect(new Headers(init?.headers).get("Authorization")).toBe("Bearer access-1");
    expect(store.load()).toBe("refresh-1");
  });

  it("refreshes once on a 401 shared by concurrent requests, then retries", async () => {
    const store = memoryStore("refresh-0");
    let refreshes = 0;
    const fetch = vi.fn<typeof globalThis.fetch>(async (input, init) => {
      const url = String(input);
      if (url.endsWith("/auth/refresh")) {
        refreshes += 1;
        return json(pair(refreshes));
      }
      const auth = new Headers(init?.headers).get("Authorization");
      return auth === "Bearer access-2" || auth === "Bearer access-1" ? json({ ok: url }) : json({ code: "unauthorized", message: "no" }, 401);
    });
    const client = new ApiClient({ fetch, store });
    // no access token yet: the first requests refresh from the stored refresh token
    const results = await Promise.all([client.get("/a"), client.get("/b")]);
    expect(results).toEqual([{ ok: "/api/v1/a" }, { ok: "/api/v1/b" }]);
    expect(refreshes).toBe(1);
    expect(store.load()).toBe("refresh-1");
  });

  it("ends the session when the refresh token is refused", async () => {
    const store = memoryStore("stale");
    const fetch = vi.fn<typeof globalThis.fetch>(async () => json({ code: "unauthorized", message: "no" }, 401));
    const client = new ApiClient({ fetch, store });
    const changes: boolean[] = [];
    client.onAuthChange((a) => changes.push(a));
    await expect(client.get("/x")).rejects.toMatchObject({ status: 401 });
    expect(store.load()).toBeNull();
    expect(changes).toEqual([false]);
  });

  it("refreshes silently before the access token expires", async () => {
    vi.useFakeTimers();
    try {
      const store = memoryStore();
      const fetch = vi.fn<typeof globalThis.fetch>().mockResolvedValueOnce(json({ ...pair(1), expires_in: 120 })).mockResolvedValueOnce(json(pair(2)));
      const client = new ApiClient({ fetch, store, refreshMargin: 60 });
      await client.login("a@b.c", "pw");
      await vi.advanceTimersByTimeAsync(59_000);
      expect(fetch).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(2_000);
      expect(fetch).toHaveBeenCalledTimes(2);
      expect(String(fetch.mock.calls[1]![0])).toBe("/api/v1/auth/refresh");
      expect(client.token).toBe("access-2");
      client.clear();
    } finally {
      vi.useRealTimers();
    }
  });

  it("turns error bodies into ApiError and 422 details into field errors", async () => {
    const fetch = vi.fn<typeof globalThis.fetch>(async () =>
      json({ code: "validation_error", message: "bad", details: [{ loc: ["body", "retrieval", "top_k"], msg: "too big" }, { loc: ["body", "greeting"], msg: "too long" }] }, 422),
    );
    const client = new ApiClient({ fetch, store: memoryStore() });
    const error = await client.patch("/tenants/me/settings", {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe("validation_error");
    expect(fieldErrors(error)).toEqual({ "retrieval.top_k": "too big", greeting: "too long" });
  });

  it("drops empty query parameters", () => {
    const client = new ApiClient({ store: memoryStore() });
    expect(client.url("/conversations", { status: "", channel: "whatsapp", q: undefined, limit: 50 })).toBe("/api/v1/conversations?channel=whatsapp&limit=50");
  });

  it("reads a server-sent event stream", async () => {
    const body = 'event: token\ndata: {"text":"Hel"}\n\nevent: token\ndata: {"text":"lo"}\n\nevent: reply\ndata: {"reply":"Hello","sources":[]}\n\n';
    const fetch = vi.fn<typeof globalThis.fetch>(async () => new Response(body, { headers: { "content-type": "text/event-stream" } }));
    const client = new ApiClient({ fetch, store: memoryStore() });
    const seen: [string, unknown][] = [];
    await client.stream("/chat/stream", { message: "hi" }, (event, data) => seen.push([event, data]));
    expect(seen.map(([e]) => e)).toEqual(["token", "token", "reply"]);
    expect(seen[2]![1]).toEqual({ reply: "Hello", sources: [] });
  });

  it("reports upload progress from XMLHttpRequest", async () => {
    class FakeXhr {
      status = 0;
      responseText = "";
      upload: { onprogress: ((e: ProgressEvent) => void) | null } = { onprogress: null };
      onload: (() => void) | null = null;
      onerror: (() => void) | null = null;
      headers: Record<string, string> = {};
      open() {}
      setRequestHeader(k: string, v: string) {
        this.headers[k] = v;
      }
      send() {
        this.upload.onprogress?.({ lengthComputable: true, loaded: 50, total: 100 } as ProgressEvent);
        this.upload.onprogress?.({ lengthComputable: true, loaded: 100, total: 100 } as ProgressEvent);
        this.status = 202;
        this.responseText = JSON.stringify([{ id: "d1" }]);
        this.onload?.();
      }
    }
    const client = new ApiClient({ store: memoryStore(), xhr: () => new FakeXhr() as unknown as XMLHttpRequest });
    const progress: number[] = [];
    const docs = await client.upload("/knowledge", new FormData(), (p) => progress.push(p.loaded / p.total));
    expect(docs).toEqual([{ id: "d1" }]);
    expect(progress).toEqual([0.5, 1]);
  });
});

describe("SseParser", () => {
  it("joins events split across chunks and multi-line data", () => {
    const parser = new SseParser();
    expect(parser.feed("event: tok")).toEqual([]);
    expect(parser.feed('en\ndata: {"a":\ndata: 1}\n\n: comment\n\nevent: reply\r\ndata: x')).toEqual([{ event: "token", data: '{"a":\n1}' }]);
    expect(parser.flush()).toEqual([{ event: "reply", data: "x" }]);
  });
});
