import { useState } from "react";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api } from "../api/client";
import type { AuditEntry, Page } from "../api/types";
import { Empty, ErrorMessage, formatDate, Loading } from "../components/ui";

interface Filters {
  actor_type: string;
  action: string;
  resource_type: string;
  since: string;
  until: string;
}

const EMPTY: Filters = { actor_type: "", action: "", resource_type: "", since: "", until: "" };

function toQuery(f: Filters) {
  return {
    actor_type: f.actor_type,
    action: f.action,
    resource_type: f.resource_type,
    since: f.since ? new Date(f.since).toISOString() : "",
    until: f.until ? new Date(`${f.until}T23:59:59`).toISOString() : "",
  };
}

export default function AuditPage() {
  const { t } = useTranslation();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [exportError, setExportError] = useState<unknown>(null);
  const log = useInfiniteQuery({
    queryKey: ["audit", filters],
    queryFn: ({ pageParam }) => api.get<Page<AuditEntry>>("/audit-logs", { ...toQuery(filters), limit: 50, cursor: pageParam }),
    initialPageParam: "",
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const set = (key: keyof Filters) => (e: { target: { value: string } }) => setDraft((d) => ({ ...d, [key]: e.target.value }));
  const rows = log.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <div className="page">
      <div className="row between wrap">
        <h1>{t("audit.title")}</h1>
        <button
          type="button"
          onClick={() => {
            setExportError(null);
            api.download("/audit-logs/export.csv", toQuery(filters), "audit-log.csv").catch(setExportError);
          }}
        >
          {t("audit.export")}
        </button>
      </div>
      <ErrorMessage error={exportError} />
      <form
        className="filters row wrap card"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <label>
          {t("audit.actorType")}{" "}
          <select value={draft.actor_type} onChange={set("actor_type")}>
            <option value="">{t("common.all")}</option>
            <option value="user">user</option>
            <option value="platform">platform</option>
            <option value="system">system</option>
          </select>
        </label>
        <label>
          {t("audit.action")} <input value={draft.action} onChange={set("action")} placeholder="tenant.settings_updated" />
        </label>
        <label>
          {t("audit.resourceType")} <input value={draft.resource_type} onChange={set("resource_type")} />
        </label>
        <label>
          {t("common.from")} <input type="date" value={draft.since} onChange={set("since")} />
        </label>
        <label>
          {t("common.to")} <input type="date" value={draft.until} onChange={set("until")} />
        </label>
        <button type="submit">{t("common.apply")}</button>
        <button
          type="button"
          onClick={() => {
            setDraft(EMPTY);
            setFilters(EMPTY);
          }}
        >
          {t("common.reset")}
        </button>
      </form>
      <section className="card">
        {log.isPending ? <Loading /> : <ErrorMessage error={log.error} />}
        {log.data && rows.length === 0 && <Empty />}
        {rows.length > 0 && (
          <div className="table-wrap">
            <table className="audit">
              <thead>
                <tr>
                  <th scope="col">{t("audit.when")}</th>
                  <th scope="col">{t("audit.actor")}</th>
                  <th scope="col">{t("audit.action")}</th>
                  <th scope="col">{t("audit.resource")}</th>
                  <th scope="col">{t("audit.changes")}</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.id} data-testid="audit-row">
                    <td className="small nowrap">{formatDate(row.occurred_at)}</td>
                    <td>{row.actor_label ?? row.actor_type}</td>
                    <td className="mono">{row.action}</td>
                    <td className="small">
                      {row.resource_type}
                      {row.resource_id ? ` ${row.resource_id.slice(0, 8)}` : ""}
                    </td>
                    <td>
                      <pre dir="auto" className="changes">
                        {JSON.stringify(row.changes, null, 1)}
                      </pre>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {log.hasNextPage && (
          <button type="button" onClick={() => void log.fetchNextPage()} disabled={log.isFetchingNextPage}>
            {t("common.more")}
          </button>
        )}
      </section>
    </div>
  );
}
