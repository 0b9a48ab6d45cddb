import { useEffect, useRef, useState, type FormEvent } from "react";
import { useTranslation } from "react-i18next";
import { api } from "../api/client";
import type { ChatReply, Source } from "../api/types";
import { Sources } from "../components/Sources";

interface Turn {
  id: number;
  role: "user" | "bot";
  text: string;
  sources?: Source[];
  handoff?: boolean;
  fallback?: boolean;
  streaming?: boolean;
  error?: string;
}

export default function ChatPage() {
  const { t } = useTranslation();
  const [turns, setTurns] = useState<Turn[]>([]);
  const [text, setText] = useState("");
  const [busy, setBusy] = useState(false);
  const conversation = useRef<string | null>(null);
  const abort = useRef<AbortController | null>(null);
  const log = useRef<HTMLOListElement>(null);
  const next = useRef(1);

  useEffect(() => () => abort.current?.abort(), []);
  useEffect(() => {
    log.current?.lastElementChild?.scrollIntoView?.({ block: "end" });
  }, [turns]);

  function patch(id: number, change: Partial<Turn>) {
    setTurns((list) => list.map((turn) => (turn.id === id ? { ...turn, ...change } : turn)));
  }

  async function send(event: FormEvent) {
    event.preventDefault();
    const message = text.trim();
    if (!message || busy) return;
    const userId = next.current++;
    const botId = next.current++;
    setTurns((list) => [...list, { id: userId, role: "user", text: message }, { id: botId, role: "bot", text: "", streaming: true }]);
    setText("");
    setBusy(true);
    const controller = new AbortController();
    abort.current = controller;
    let streamed = "";
    try {
      await api.stream(
        "/chat/stream",
        { message, conversation_id: conversation.current },
        (kind, data) => {
          if (kind === "token" && data && typeof data === "object") {
            streamed += String((data as { text?: unknown }).text ?? "");
            patch(botId, { text: streamed });
          } else if (kind === "reply") {
            const reply = data as ChatReply;
            conversation.current = reply.conversation_id;
            patch(botId, { text: reply.reply, sources: reply.sources, handoff: reply.handoff, fallback: reply.fallback, streaming: false });
          } else if (kind === "error") {
            patch(botId, { error: String((data as { message?: unknown }).message ?? kind), streaming: false });
          }
        },
        controller.signal,
      );
    } catch (err) {
      if (!controller.signal.aborted) patch(botId, { error: err instanceof Error ? err.message : String(err) });
    } finally {
      patch(botId, { streaming: false });
      setBusy(false);
    }
  }

  return (
    <div className="page chat-page">
      <div className="row between wrap">
        <h1>{t("chat.title")}</h1>
        <button
          type="button"
          onClick={() => {
            abort.current?.abort();
            conversation.current = null;
            setTurns([]);
          }}
        >
          {t("chat.newChat")}
        </button>
      </div>
      <p className="muted">{t("chat.hint")}</p>
      <ol className="transcript card" ref={log} aria-live="polite" aria-busy={busy}>
        {turns.map((turn) => (
          <li key={turn.id} className={`bubble ${turn.role === "user" ? "inbound" : "outbound"}`} data-testid={turn.role === "bot" ? "bot-turn" : "user-turn"}>
            <span className="visually-hidden">{turn.role === "user" ? t("chat.you") : t("chat.bot")}: </span>
            <p dir="auto" className="prewrap">
              {turn.text || (turn.streaming ? "…" : "")}
            </p>
            {turn.error && (
              <p role="alert" className="error">
                {turn.error}
              </p>
            )}
            {turn.handoff && <p className="tag warn">{t("chat.handoff")}</p>}
            {turn.fallback && !turn.handoff && <p className="tag">{t("chat.fallback")}</p>}
            <Sources sources={turn.sources} />
          </li>
        ))}
      </ol>
      <form className="composer row" onSubmit={(e) => void send(e)}>
        <label htmlFor="chat-input" className="visually-hidden">
          {t("chat.message")}
        </label>
        <textarea
          id="chat-input"
          dir="auto"
          rows={2}
          className="grow"
          placeholder={t("chat.message")}
          value={text}
          maxLength={4000}
          onChange={(e) => setText(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && !e.shiftKey) {
              e.preventDefault();
              e.currentTarget.form?.requestSubmit();
            }
          }}
        />
        <button type="submit" className="primary" disabled={busy || !text.trim()}>
          {busy ? t("chat.sending") : t("chat.send")}
        </button>
      </form>
    </div>
  );
}
