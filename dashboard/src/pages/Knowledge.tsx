import { useState, type FormEvent } from "react";
import { useSearchParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api } from "../api/client";
import type { ChunkPage, KnowledgeDocument, Page, SearchResult } from "../api/types";
import { UploadZone } from "../components/UploadZone";
import { ConfirmButton, Empty, ErrorMessage, formatBytes, formatDate, Loading, ProgressBar, sourceLabel } from "../components/ui";

export function StatusBadge({ doc }: { doc: Pick<KnowledgeDocument, "status" | "progress" | "error_reason"> }) {
  const { t } = useTranslation();
  const percent = Math.round((doc.progress ?? 0) * (doc.progress > 1 ? 1 : 100));
  return (
    <span className={`badge status-${doc.status}`} title={doc.error_reason ?? undefined}>
      {t(`knowledge.status_${doc.status}`, { percent })}
      {doc.status === "failed" && doc.error_reason ? `: ${doc.error_reason}` : null}
    </span>
  );
}

function Chunks({ doc, onClose }: { doc: KnowledgeDocument; onClose: () => void }) {
  const { t } = useTranslation();
  const query = useQuery({ queryKey: ["chunks", doc.id], queryFn: () => api.get<ChunkPage>(`/knowledge/${doc.id}/chunks`, { limit: 50 }) });
  return (
    <section className="card" aria-labelledby="chunks-title">
      <div className="row between">
        <h2 id="chunks-title">{t("knowledge.chunkTitle", { name: doc.original_filename })}</h2>
        <button type="button" onClick={onClose}>
          {t("common.close")}
        </button>
      </div>
      {query.isPending ? <Loading /> : <ErrorMessage error={query.error} />}
      <ol className="chunks">
        {query.data?.items.map((chunk) => (
          <li key={chunk.chunk_id}>
            <div className="muted small">
              #{chunk.ordinal} · {sourceLabel({ location: chunk.location })}
            </div>
            <p dir="auto" className="prewrap">
              {chunk.text}
            </p>
          </li>
        ))}
      </ol>
      {query.data && query.data.items.length === 0 && <Empty />}
    </section>
  );
}

function SearchTester() {
  const { t } = useTranslation();
  const [text, setText] = useState("");
  const [topK, setTopK] = useState("");
  const [minScore, setMinScore] = useState("");
  const search = useMutation({
    mutationFn: () =>
      api.post<SearchResult>("/knowledge/search", {
        query: text,
        top_k: topK ? Number(topK) : null,
        min_score: minScore ? Number(minScore) : null,
      }),
  });
  function submit(event: FormEvent) {
    event.preventDefault();
    if (text.trim()) search.mutate();
  }
  return (
    <section className="card" aria-labelledby="search-title">
      <h2 id="search-title">{t("knowledge.searchTester")}</h2>
      <p className="muted">{t("knowledge.searchHint")}</p>
      <form className="row wrap" onSubmit={submit}>
        <label className="grow">
          <span className="visually-hidden">{t("knowledge.query")}</span>
          <input dir="auto" placeholder={t("knowledge.query")} value={text} onChange={(e) => setText(e.target.value)} required />
        </label>
        <label>
          {t("knowledge.topK")} <input type="number" min={1} max={50} className="narrow" value={topK} onChange={(e) => setTopK(e.target.value)} />
        </label>
        <label>
          {t("knowledge.minScore")} <input type="number" min={0} max={1} step={0.05} className="narrow" value={minScore} onChange={(e) => setMinScore(e.target.value)} />
        </label>
        <button type="submit" disabled={search.isPending}>
          {t("knowledge.run")}
        </button>
      </form>
      <ErrorMessage error={search.error} />
      {search.data && (
        <>
          <p className="muted small">
            {search.data.embedding_provider}/{search.data.embedding_model} · top {search.data.top_k} · ≥ {search.data.min_score}
          </p>
          {search.data.items.length === 0 ? (
            <Empty>{t("knowledge.noHits")}</Empty>
          ) : (
            <ol className="hits">
              {search.data.items.map((hit) => (
                <li key={hit.chunk_id}>
                  <div className="row between small">
                    <strong>{sourceLabel({ ...hit, document: hit.document ?? undefined })}</strong>
                    <span className="muted">{t("knowledge.score", { score: hit.score.toFixed(3) })}</span>
                  </div>
                  <p dir="auto" className="prewrap">
                    {hit.text}
                  </p>
                </li>
              ))}
            </ol>
          )}
        </>
      )}
    </section>
  );
}

export default function KnowledgePage() {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const [params] = useSearchParams();
  const [status, setStatus] = useState("");
  const [selected, setSelected] = useState<KnowledgeDocument | null>(null);
  const documents = useQuery({
    queryKey: ["knowledge", status],
    queryFn: () => api.get<Page<KnowledgeDocument>>("/knowledge", { limit: 100, status }),
    // poll fast while something is being processed, slowly otherwise
    refetchInterval: (query) => (query.state.data?.items.some((d) => d.status === "queued" || d.status === "processing") ? 1500 : 15000),
  });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["knowledge"] });
  const reprocess = useMutation({ mutationFn: (id: string) => api.post(`/knowledge/${id}/reprocess`), onSettled: refresh });
  const remove = useMutation({
    mutationFn: (id: string) => api.delete(`/knowledge/${id}`),
    onSettled: refresh,
    onSuccess: (_, id) => setSelected((s) => (s?.id === id ? null : s)),
  });
  const gap = params.get("question");

  return (
    <div className="page">
      <h1>{t("knowledge.title")}</h1>
      {gap && (
        <p className="notice" dir="auto">
          {t("overview.addAnswer")}: “{gap}”
        </p>
      )}
      <UploadZone onUploaded={refresh} autoFocus={params.get("upload") === "1"} />
      <section className="card" aria-labelledby="docs-title">
        <div className="row between wrap">
          <h2 id="docs-title">{t("knowledge.documents")}</h2>
          <label>
            {t("knowledge.filter")}{" "}
            <select value={status} onChange={(e) => setStatus(e.target.value)}>
              <option value="">{t("common.all")}</option>
              {(["queued", "processing", "ready", "failed"] as const).map((s) => (
                <option key={s} value={s}>
                  {t(`knowledge.status_${s}`, { percent: "" }).replace(/\s*%$/, "")}
                </option>
              ))}
            </select>
          </label>
        </div>
        {documents.isPending ? <Loading /> : <ErrorMessage error={documents.error} />}
        <ErrorMessage error={reprocess.error ?? remove.error} />
        {documents.data && documents.data.items.length === 0 && <Empty />}
        {documents.data && documents.data.items.length > 0 && (
          <div className="table-wrap">
            <table className="docs">
              <thead>
                <tr>
                  <th scope="col">{t("knowledge.name")}</th>
                  <th scope="col">{t("knowledge.status")}</th>
                  <th scope="col">{t("knowledge.chunks")}</th>
                  <th scope="col">{t("knowledge.size")}</th>
                  <th scope="col">{t("knowledge.updated")}</th>
                  <th scope="col">{t("knowledge.actions")}</th>
                </tr>
              </thead>
              <tbody>
                {documents.data.items.map((doc) => (
                  <tr key={doc.id} data-testid="document-row" data-status={doc.status}>
                    <td dir="auto" className="ellipsis">
                      {doc.original_filename}
                    </td>
                    <td>
                      <StatusBadge doc={doc} />
                      {doc.status === "processing" && <ProgressBar value={doc.progress > 1 ? doc.progress / 100 : doc.progress} label={doc.original_filename} />}
                    </td>
                    <td>{doc.chunk_count ?? "—"}</td>
                    <td>{formatBytes(doc.size_bytes)}</td>
                    <td className="small">{formatDate(doc.updated_at)}</td>
                    <td className="actions">
                      <button type="button" onClick={() => setSelected(doc)} disabled={doc.status !== "ready"}>
                        {t("knowledge.preview")}
                      </button>
                      <ConfirmButton label={t("knowledge.reprocess")} question={t("knowledge.confirmReprocess", { name: doc.original_filename })} onConfirm={() => reprocess.mutate(doc.id)} />
                      <ConfirmButton className="danger" label={t("common.delete")} question={t("knowledge.confirmDelete", { name: doc.original_filename })} onConfirm={() => remove.mutate(doc.id)} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {selected && <Chunks doc={selected} onClose={() => setSelected(null)} />}
      <SearchTester />
    </div>
  );
}
