import { useState, type FormEvent } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api } from "../api/client";
import type { Conversation, ConversationDetail, ConversationStatus, Page } from "../api/types";
import { DeliveryTicks } from "../components/DeliveryTicks";
import { Sources } from "../components/Sources";
import { Empty, ErrorMessage, formatDate, Loading } from "../components/ui";

interface Filters {
  channel: string;
  status: string;
  since: string;
  q: string;
}

function Inbox({ filters, selected }: { filters: Filters; selected?: string }) {
  const { t } = useTranslation();
  const list = useQuery({
    queryKey: ["conversations", filters],
    queryFn: () =>
      api.get<Page<Conversation>>("/conversations", {
        channel: filters.channel,
        status: filters.status,
        since: filters.since ? new Date(filters.since).toISOString() : "",
        q: filters.q,
        limit: 50,
      }),
    refetchInterval: 3000,
  });
  if (list.isPending) return <Loading />;
  if (list.error) return <ErrorMessage error={list.error} />;
  if (list.data.items.length === 0) return <Empty />;
  return (
    <ul className="inbox" aria-label={t("conversations.title")}>
      {list.data.items.map((c) => (
        <li key={c.id}>
          <Link to={`/conversations/${c.id}`} className={`inbox-item${selected === c.id ? " selected" : ""}`} aria-current={selected === c.id ? "true" : undefined} data-testid="conversation-item">
            <span className="row between">
              <strong dir="auto" className="ellipsis">
                {c.customer_name ?? c.customer_id}
                {c.customer_name ? <span className="muted small"> · {c.customer_id}</span> : null}
              </strong>
              <span className={`badge status-${c.status}`}>{t(`conversations.status_${c.status}`, { defaultValue: c.status })}</span>
            </span>
            <span className="muted small">
              {c.channel} · {t("conversations.messages", { count: c.message_count })} · {formatDate(c.last_message_at)}
            </span>
          </Link>
        </li>
      ))}
    </ul>
  );
}

function Transcript({ id }: { id: string }) {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [reply, setReply] = useState("");
  const detail = useQuery({
    queryKey: ["conversation", id],
    queryFn: () => api.get<ConversationDetail>(`/conversations/${id}`),
    refetchInterval: 2000,
  });
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["conversation", id] });
    void queryClient.invalidateQueries({ queryKey: ["conversations"] });
  };
  const setStatus = useMutation({
    mutationFn: (status: ConversationStatus) => api.patch<Conversation>(`/conversations/${id}`, { status }),
    onSettled: refresh,
  });
  const send = useMutation({
    mutationFn: (text: string) => api.post(`/conversations/${id}/messages`, { text }),
    onSuccess: () => setReply(""),
    onSettled: refresh,
  });
  if (detail.isPending) return <Loading />;
  if (detail.error) return <ErrorMessage error={detail.error} />;
  const c = detail.data;
  const human = c.status === "handoff";
  function submit(event: FormEvent) {
    event.preventDefault();
    if (reply.trim()) send.mutate(reply.trim());
  }
  return (
    <section className="card transcript-panel" aria-labelledby="conv-title">
      <button type="button" className="link only-narrow" onClick={() => navigate("/conversations")}>
        ← {t("conversations.back")}
      </button>
      <div className="row between wrap">
        <h2 id="conv-title" dir="auto">
          {c.customer_name ?? c.customer_id} <span className="muted small">({c.channel})</span>
        </h2>
        <div className="row wrap">
          <span className={`badge status-${c.status}`} data-testid="conversation-status">
            {t(`conversations.status_${c.status}`, { defaultValue: c.status })}
          </span>
          {!human && (
            <button type="button" className="primary" onClick={() => setStatus.mutate("handoff")}>
              {t("conversations.takeOver")}
            </button>
          )}
          {human && (
            <button type="button" onClick={() => setStatus.mutate("open")}>
              {t("conversations.handBack")}
            </button>
          )}
          {c.status !== "resolved" ? (
            <button type="button" onClick={() => setStatus.mutate("resolved")}>
              {t("conversations.resolve")}
            </button>
          ) : (
            <button type="button" onClick={() => setStatus.mutate("open")}>
              {t("conversations.reopen")}
            </button>
          )}
        </div>
      </div>
      <ErrorMessage error={setStatus.error} />
      <ol className="transcript" aria-live="polite">
        {c.messages.map((m) => {
          const inbound = m.direction === "inbound";
          return (
            <li key={m.id} className={`bubble ${inbound ? "inbound" : "outbound"} author-${m.author}`} data-testid="message">
              <div className="muted small row between">
                <span>{m.author}</span>
                <span>
                  {formatDate(m.sent_at)} {!inbound && <DeliveryTicks status={m.delivery_status} />}
                </span>
              </div>
              <p dir="auto" className="prewrap">
                {m.text ?? `[${m.kind}]`}
              </p>
              <div className="row wrap">
                {m.sentiment && <span className={`tag sentiment-${m.sentiment}`}>{m.sentiment}</span>}
                {m.intent && <span className="tag">{m.intent}</span>}
              </div>
              <Sources sources={m.sources} />
            </li>
          );
        })}
      </ol>
      <form className="composer row" onSubmit={submit}>
        <label htmlFor="agent-reply" className="visually-hidden">
          {t("conversations.reply")}
        </label>
        <textarea
          id="agent-reply"
          dir="auto"
          rows={2}
          className="grow"
          placeholder={human ? t("conversations.reply") : t("conversations.replyNeedsTakeover")}
          value={reply}
          disabled={!human}
          maxLength={4096}
          onChange={(e) => setReply(e.target.value)}
        />
        <button type="submit" className="primary" disabled={!human || send.isPending || !reply.trim()}>
          {t("conversations.send")}
        </button>
      </form>
      <ErrorMessage error={send.error} />
    </section>
  );
}

export default function ConversationsPage() {
  const { t } = useTranslation();
  const { id } = useParams();
  const [filters, setFilters] = useState<Filters>({ channel: "", status: "", since: "", q: "" });
  const set = (key: keyof Filters) => (value: string) => setFilters((f) => ({ ...f, [key]: value }));
  return (
    <div className="page">
      <h1>{t("conversations.title")}</h1>
      <form className="filters row wrap" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <label>
          {t("conversations.channel")}{" "}
          <select value={filters.channel} onChange={(e) => set("channel")(e.target.value)}>
            <option value="">{t("common.all")}</option>
            <option value="whatsapp">WhatsApp</option>
            <option value="instagram">Instagram</option>
            <option value="test">Test chat</option>
          </select>
        </label>
        <label>
          {t("conversations.status")}{" "}
          <select value={filters.status} onChange={(e) => set("status")(e.target.value)}>
            <option value="">{t("common.all")}</option>
            <option value="open">{t("conversations.status_open")}</option>
            <option value="handoff">{t("conversations.needsHuman")}</option>
            <option value="resolved">{t("conversations.status_resolved")}</option>
          </select>
        </label>
        <label>
          <input type="checkbox" checked={filters.status === "handoff"} onChange={(e) => set("status")(e.target.checked ? "handoff" : "")} /> {t("conversations.needsHuman")}
        </label>
        <label>
          {t("conversations.since")} <input type="date" value={filters.since} onChange={(e) => set("since")(e.target.value)} />
        </label>
        <label className="grow">
          <span className="visually-hidden">{t("conversations.search")}</span>
          <input type="search" dir="auto" placeholder={t("conversations.search")} value={filters.q} onChange={(e) => set("q")(e.target.value)} />
        </label>
      </form>
      <div className={`split${id ? " has-selection" : ""}`}>
        <div className="split-list card">
          <Inbox filters={filters} selected={id} />
        </div>
        <div className="split-detail">{id ? <Transcript id={id} /> : <Empty>{t("conversations.select")}</Empty>}</div>
      </div>
    </div>
  );
}
