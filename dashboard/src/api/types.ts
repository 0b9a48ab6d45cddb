// Shapes of the gateway's /api/v1 (see the gateway's /openapi.json).

export type Role = "owner" | "admin" | "agent";
export type Language = "ar" | "en" | "fr" | "ur" | "hi";

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type?: string;
  expires_in: number;
}

export interface User {
  id: string;
  tenant_id: string;
  email: string;
  role: Role;
  status: "active" | "disabled";
  created_at: string;
  updated_at: string;
}

export interface RetrievalSettings {
  chunk_size: number;
  chunk_overlap: number;
  top_k: number;
  min_score: number;
}

export interface LlmSettings {
  model: string;
  temperature: number;
  max_tokens: number;
}

export interface TenantSettings {
  bot_name: string;
  persona: string;
  system_prompt_additions: string;
  default_language: Language;
  languages: Language[];
  greeting: string;
  fallback_message: string;
  handoff_message: string;
  timezone: string;
  business_hours: Record<string, { open: string; close: string }[] | null | undefined>;
  retrieval: RetrievalSettings;
  llm: LlmSettings;
}

export interface Tenant {
  id: string;
  name: string;
  created_at: string;
  settings: TenantSettings;
}

export interface AuditEntry {
  id: string;
  occurred_at: string;
  actor_type: "user" | "platform" | "system";
  actor_id: string | null;
  actor_label: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  changes: Record<string, unknown>;
  request_id: string | null;
  ip: string | null;
  user_agent: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export type Platform = "whatsapp" | "instagram";

export interface Channel {
  id: string;
  platform: Platform;
  external_account_id: string;
  name: string | null;
  waba_id: string | null;
  display_phone_number: string | null;
  page_id: string | null;
  access_token: string;
  app_secret_set: boolean;
  own_verify_token: boolean;
  status: "active" | "paused";
  paused_reason: string | null;
  token_expires_at: string | null;
  token_expiring_soon: boolean;
  webhook_url: string;
  created_at: string;
  updated_at: string;
  verify_token?: string | null;
}

export interface ChannelTestResult {
  ok: boolean;
  account?: Record<string, unknown> | null;
  error_code?: string | null;
  message: string;
}

export type DocumentStatus = "queued" | "processing" | "ready" | "failed";

export interface KnowledgeDocument {
  id: string;
  title: string;
  original_filename: string;
  file_type: string;
  content_type: string;
  size_bytes: number;
  status: DocumentStatus;
  progress: number;
  error_reason: string | null;
  page_count: number | null;
  chunk_count: number | null;
  generation: number;
  queued_at: string;
  processed_at: string | null;
  duration_ms: number | null;
  tags: string[];
  language: string | null;
  created_at: string;
  updated_at: string;
}

export interface KnowledgeChunk {
  chunk_id: string;
  ordinal: number;
  text: string;
  location: Record<string, unknown>;
  embedding_provider: string;
  embedding_model: string;
}

export interface ChunkPage {
  document_id: string;
  items: KnowledgeChunk[];
  next_offset: number | null;
}

export interface SearchHit {
  chunk_id: string;
  document_id: string;
  text: string;
  location: Record<string, unknown>;
  score: number;
  similarity: number | null;
  text_rank: number | null;
  document: { id: string; title: string; original_filename: string; file_type: string } | null;
}

export interface SearchResult {
  query: string;
  top_k: number;
  min_score: number;
  embedding_provider: string;
  embedding_model: string;
  items: SearchHit[];
}

/** A source of a bot answer, as stored by the rag service; every field is optional. */
export interface Source {
  document_id?: string;
  title?: string;
  original_filename?: string;
  page?: number;
  section?: string;
  location?: Record<string, unknown>;
  chunk_id?: string;
  [key: string]: unknown;
}

export interface ChatReply {
  reply: string;
  sources: Source[];
  conversation_id: string;
  handoff: boolean;
  fallback?: boolean;
}

export type ConversationStatus = "open" | "handoff" | "resolved";

export interface Conversation {
  id: string;
  channel: string;
  channel_id: string | null;
  customer_id: string;
  customer_name: string | null;
  status: string;
  created_at: string;
  last_message_at: string;
  message_count: number;
  needs_human?: boolean;
}

export interface Message {
  id: string;
  direction: string;
  author: string;
  kind: string;
  text: string | null;
  sources: Source[];
  sent_at: string;
  created_at: string;
  delivery_status?: string | null;
  sentiment?: string | null;
  intent?: string | null;
}

export interface ConversationDetail extends Conversation {
  messages: Message[];
}

export interface ValidationDetail {
  loc: (string | number)[];
  msg: string;
  type?: string;
}
