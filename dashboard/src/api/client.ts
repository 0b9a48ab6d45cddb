import { SseParser } from "./sse";
import type { TokenPair, ValidationDetail } from "./types";

/** An error answered by the API: `{code, message, details?}` with its HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;

  constructor(status: number, code: string, message: string, details?: unknown) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/**
 * Field errors of a 422 keyed by the field path without the leading `body`
 * (`["body", "retrieval", "top_k"]` → `retrieval.top_k`).
 */
export function fieldErrors(error: unknown): Record<string, string> {
  if (!(error instanceof ApiError) || !Array.isArray(error.details)) return {};
  const out: Record<string, string> = {};
  for (const item of error.details as ValidationDetail[]) {
    if (!item || !Array.isArray(item.loc)) continue;
    const loc = item.loc[0] === "body" || item.loc[0] === "query" ? item.loc.slice(1) : item.loc;
    const key = loc.join(".") || "_";
    out[key] ??= item.msg;
  }
  return out;
}

export interface TokenStore {
  load(): string | null;
  save(refreshToken: string | null): void;
}

const REFRESH_KEY = "wafaa.refresh_token";

export const localTokenStore: TokenStore = {
  load: () => localStorage.getItem(REFRESH_KEY),
  save: (token) => (token ? localStorage.setItem(REFRESH_KEY, token) : localStorage.removeItem(REFRESH_KEY)),
};

export interface ClientOptions {
  baseUrl?: string;
  fetch?: typeof fetch;
  store?: TokenStore;
  /** Seconds before expiry at which the access token is silently refreshed. */
  refreshMargin?: number;
  xhr?: () => XMLHttpRequest;
}

export type RequestOptions = Omit<RequestInit, "body"> & {
  json?: unknown;
  body?: BodyInit | null;
  query?: Record<string, string | number | boolean | null | undefined>;
};

export interface UploadProgress {
  loaded: number;
  total: number;
}

type Listener = (authenticated: boolean) => void;

/**
 * The API client: bearer access token in memory, refresh token in storage, refresh before expiry
 * (timer) and on a 401 (once, shared by concurrent requests), JSON errors as ApiError.
 */
export class ApiClient {
  private readonly baseUrl: string;
  private readonly fetchImpl: typeof fetch;
  private readonly store: TokenStore;
  private readonly refreshMargin: number;
  private readonly makeXhr: () => XMLHttpRequest;
  private accessToken: string | null = null;
  private refreshing: Promise<boolean> | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private listeners = new Set<Listener>();

  constructor(options: ClientOptions = {}) {
    this.baseUrl = options.baseUrl ?? "/api/v1";
    this.fetchImpl = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.store = options.store ?? localTokenStore;
    this.refreshMargin = options.refreshMargin ?? 60;
    this.makeXhr = options.xhr ?? (() => new XMLHttpRequest());
  }

  get token(): string | null {
    return this.accessToken;
  }

  hasSession(): boolean {
    return this.accessToken !== null || this.store.load() !== null;
  }

  onAuthChange(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  url(path: string, query?: RequestOptions["query"]): string {
    let url = path.startsWith("http") ? path : `${this.baseUrl}${path}`;
    if (query) {
      const params = new URLSearchParams();
      for (const [key, value] of Object.entries(query)) {
        if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
      }
      const qs = params.toString();
      if (qs) url += (url.includes("?") ? "&" : "?") + qs;
    }
    return url;
  }

  async login(email: string, password: string): Promise<void> {
    const pair = await this.request<TokenPair>("/auth/login", {
      method: "POST",
      json: { email, password },
      auth: false,
    });
    this.accept(pair);
  }

  async logout(): Promise<void> {
    try {
      if (this.accessToken) await this.request<void>("/auth/logout", { method: "POST", retry: false });
    } catch {
      // the session ends locally whatever the server says
    } finally {
      this.clear();
    }
  }

  /** Exchange the refresh token for a new pair; concurrent callers share one request. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const refreshToken = this.store.load();
    if (!refreshToken) {
      this.clear();
      return false;
    }
    try {
      const response = await this.fetchImpl(this.url("/auth/refresh"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: refreshToken }),
      });
      if (!response.ok) {
        if (response.status === 401 || response.status === 403) this.clear();
        return false;
      }
      this.accept((await response.json()) as TokenPair);
      return true;
    } catch {
      return false;
    }
  }

  private accept(pair: TokenPair): void {
    const was = this.accessToken !== null;
    this.accessToken = pair.access_token;
    this.store.save(pair.refresh_token);
    this.schedule(pair.expires_in);
    if (!was) this.emit(true);
  }

  private schedule(expiresIn: number): void {
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.max(5, expiresIn - this.refreshMargin) * 1000;
    this.timer = setTimeout(() => void this.refresh(), delay);
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const was = this.accessToken !== null || this.store.load() !== null;
    this.accessToken = null;
    this.store.save(null);
    if (was) this.emit(false);
  }

  private emit(authenticated: boolean): void {
    for (const listener of this.listeners) listener(authenticated);
  }

  private headers(extra?: HeadersInit, json = false): Headers {
    const headers = new Headers(extra);
    if (json) headers.set("Content-Type", "application/json");
    if (this.accessToken) headers.set("Authorization", `Bearer ${this.accessToken}`);
    return headers;
  }

  /** A response, refreshing the access token once on a 401. */
  async raw(path: string, options: RequestOptions & { auth?: boolean; retry?: boolean } = {}): Promise<Response> {
    const { json, query, auth = true, retry = true, body, headers, ...init } = options;
    if (auth && !this.accessToken && this.store.load()) await this.refresh();
    const send = () =>
      this.fetchImpl(this.url(path, query), {
        ...init,
        headers: auth ? this.headers(headers, json !== undefined) : new Headers({ ...(json !== undefined ? { "Content-Type": "application/json" } : {}) }),
        body: json !== undefined ? JSON.stringify(json) : body,
      });
    let response = await send();
    if (response.status === 401 && auth && retry && (await this.refresh())) {
      response = await send();
    }
    if (!response.ok) throw await toError(response);
    return response;
  }

  async request<T>(path: string, options: RequestOptions & { auth?: boolean; retry?: boolean } = {}): Promise<T> {
    const response = await this.raw(path, options);
    if (response.status === 204) return undefined as T;
    const type = response.headers.get("content-type") ?? "";
    if (type.includes("json")) return (await response.json()) as T;
    return (await response.text()) as T;
  }

  get<T>(path: string, query?: RequestOptions["query"]): Promise<T> {
    return this.request<T>(path, { query });
  }

  post<T>(path: string, json?: unknown): Promise<T> {
    return this.request<T>(path, { method: "POST", json });
  }

  patch<T>(path: string, json: unknown): Promise<T> {
    return this.request<T>(path, { method: "PATCH", json });
  }

  delete(path: string): Promise<void> {
    return this.request<void>(path, { method: "DELETE" });
  }

  /** Multipart upload through XMLHttpRequest, for its upload progress events. */
  async upload<T>(path: string, form: FormData, onProgress?: (p: UploadProgress) => void, retried = false): Promise<T> {
    if (!this.accessToken && this.store.load()) await this.refresh();
    const result = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const xhr = this.makeXhr();
      xhr.open("POST", this.url(path));
      if (this.accessToken) xhr.setRequestHeader("Authorization", `Bearer ${this.accessToken}`);
      xhr.upload.onprogress = (event: ProgressEvent) => {
        if (event.lengthComputable) onProgress?.({ loaded: event.loaded, total: event.total });
      };
      xhr.onload = () => resolve({ status: xhr.status, text: xhr.responseText });
      xhr.onerror = () => reject(new ApiError(0, "network_error", "The upload could not reach the server."));
      xhr.send(form);
    });
    if (result.status === 401 && !retried && (await this.refresh())) {
      return this.upload<T>(path, form, onProgress, true);
    }
    const parsed = safeJson(result.text);
    if (result.status < 200 || result.status >= 300) throw errorFrom(result.status, parsed);
    return parsed as T;
  }

  /** POST and read server-sent events as they arrive. */
  async stream(path: string, json: unknown, onEvent: (event: string, data: unknown) => void, signal?: AbortSignal): Promise<void> {
    const response = await this.raw(path, { method: "POST", json, signal, headers: { Accept: "text/event-stream" } });
    if (!response.body) throw new ApiError(0, "no_stream", "The server sent no stream.");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    for (;;) {
      const { value, done } = await reader.read();
      const events = done ? parser.flush() : parser.feed(value);
      for (const e of events) onEvent(e.event, safeJson(e.data));
      if (done) break;
    }
  }

  /** Download an authenticated file (CSV export) and hand it to the browser. */
  async download(path: string, query: RequestOptions["query"], filename: string): Promise<void> {
    const response = await this.raw(path, { query });
    const blob = await response.blob();
    const href = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = href;
    a.download = filename;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(href), 1000);
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function errorFrom(status: number, body: unknown): ApiError {
  if (body && typeof body === "object") {
    const b = body as { code?: unknown; message?: unknown; details?: unknown; detail?: unknown };
    const code = typeof b.code === "string" ? b.code : `http_${status}`;
    const message = typeof b.message === "string" ? b.message : typeof b.detail === "string" ? b.detail : `HTTP ${status}`;
    return new ApiError(status, code, message, b.details ?? (Array.isArray(b.detail) ? b.detail : undefined));
  }
  return new ApiError(status, `http_${status}`, typeof body === "string" && body ? body.slice(0, 200) : `HTTP ${status}`);
}

async function toError(response: Response): Promise<ApiError> {
  const text = await response.text().catch(() => "");
  return errorFrom(response.status, safeJson(text));
}

export const api = new ApiClient();
