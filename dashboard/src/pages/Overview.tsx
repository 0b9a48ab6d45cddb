import { useState, type ReactNode } from "react";
import { Link } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { Bar, BarChart, CartesianGrid, Cell, Legend, Line, LineChart, Pie, PieChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api } from "../api/client";
import { distribution, headline, insights, responseTimes, rowsOf, seriesKeys, trendPoints } from "../api/analytics";
import { Empty, ErrorMessage, isNotFound, Loading } from "../components/ui";

const COLORS = ["#0f766e", "#2563eb", "#d97706", "#dc2626", "#7c3aed", "#059669", "#64748b"];
const SENTIMENT_COLORS: Record<string, string> = { positive: "#059669", neutral: "#64748b", negative: "#dc2626", mixed: "#d97706" };

function useAnalytics(path: string, query: Record<string, string | number>) {
  return useQuery({
    queryKey: ["analytics", path, query],
    queryFn: () => api.get<unknown>(`/analytics${path}`, query),
    retry: false,
    staleTime: 60_000,
  });
}

function Panel({ title, query, children, wide }: { title: string; query: { isPending: boolean; error: unknown }; children: ReactNode; wide?: boolean }) {
  const { t } = useTranslation();
  let body: ReactNode = children;
  if (query.isPending) body = <Loading />;
  else if (isNotFound(query.error)) body = <Empty>{t("overview.unavailable")}</Empty>;
  else if (query.error) body = <ErrorMessage error={query.error} />;
  return (
    <section className={`card chart${wide ? " wide" : ""}`} aria-label={title}>
      <h2>{title}</h2>
      {body}
    </section>
  );
}

const LABELS: Record<string, string> = {
  conversations: "overview.conversations",
  messages_in: "overview.messagesIn",
  messages_out: "overview.messagesOut",
  active_customers: "overview.activeCustomers",
  bot_resolution_rate: "overview.resolution",
  handoff_rate: "overview.handoff",
  avg_response_time_ms: "overview.responseTime",
  avg_response_seconds: "overview.responseTime",
  delivery_success_rate: "overview.delivery",
};

function formatMetric(key: string, value: number): string {
  if (key.endsWith("rate")) return `${(value <= 1 ? value * 100 : value).toFixed(1)}%`;
  if (key.endsWith("_ms")) return `${Math.round(value)} ms`;
  if (key.endsWith("seconds")) return `${value.toFixed(1)} s`;
  return value.toLocaleString();
}

export default function OverviewPage() {
  const { t } = useTranslation();
  const [days, setDays] = useState(30);
  const period = { days, since: new Date(Date.now() - days * 86_400_000).toISOString().slice(0, 10) };
  const overview = useAnalytics("/overview", period);
  const conversations = useAnalytics("/trends", { ...period, metric: "conversations", granularity: "day" });
  const messages = useAnalytics("/trends", { ...period, metric: "messages", granularity: "day" });
  const sentiment = useAnalytics("/agent/sentiment", period);
  const times = useAnalytics("/agent/response-times", period);
  const channels = useAnalytics("/channels", period);
  const insight = useAnalytics("/agent/insights", period);

  const kpis = headline(overview.data);
  const convPoints = trendPoints(conversations.data);
  const msgPoints = trendPoints(messages.data);
  const merged = convPoints.length ? convPoints.map((p, i) => ({ ...msgPoints[i], ...p })) : msgPoints;
  const mergedKeys = seriesKeys(merged);
  const sentimentData = distribution(sentiment.data);
  const timeData = responseTimes(times.data);
  const channelRows = rowsOf(channels.data, ["channels"]);
  const channelKeys = seriesKeys(channelRows.map((r) => ({ label: String(r.channel ?? r.name ?? r.platform ?? ""), ...Object.fromEntries(Object.entries(r).filter(([, v]) => typeof v === "number")) }))).slice(0, 3);
  const { intents, gaps } = insights(insight.data);

  return (
    <div className="page">
      <div className="row between wrap">
        <h1>{t("overview.title")}</h1>
        <label>
          {t("overview.period")}{" "}
          <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
            {[7, 30, 90].map((d) => (
              <option key={d} value={d}>
                {t("overview.days", { count: d })}
              </option>
            ))}
          </select>
        </label>
      </div>
      <Panel title={t("overview.title")} query={overview} wide>
        {kpis.length === 0 ? (
          <Empty>{t("overview.noData")}</Empty>
        ) : (
          <dl className="kpis">
            {kpis.slice(0, 8).map((k) => (
              <div key={k.key} className="kpi">
                <dt>{LABELS[k.key] ? t(LABELS[k.key]!) : k.key.replace(/_/g, " ")}</dt>
                <dd>
                  {formatMetric(k.key, k.value)}
                  {k.previous !== undefined && <small className="muted"> ({formatMetric(k.key, k.previous)})</small>}
                </dd>
              </div>
            ))}
          </dl>
        )}
      </Panel>
      <div className="charts">
        <Panel title={t("overview.trends")} query={conversations.error && !messages.error ? messages : conversations} wide>
          {merged.length === 0 ? (
            <Empty>{t("overview.noData")}</Empty>
          ) : (
            <ResponsiveContainer width="100%" height={260}>
              <LineChart data={merged}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="label" fontSize={12} />
                <YAxis fontSize={12} allowDecimals={false} />
                <Tooltip />
                <Legend />
                {mergedKeys.map((key, i) => (
                  <Line key={key} type="monotone" dataKey={key} stroke={COLORS[i % COLORS.length]} dot={false} isAnimationActive={false} />
                ))}
              </LineChart>
            </ResponsiveContainer>
          )}
        </Panel>
        <Panel title={t("overview.sentiment")} query={sentiment}>
          {sentimentData.length === 0 ? (
            <Empty>{t("overview.noData")}</Empty>
          ) : (
            <ResponsiveContainer width="100%" height={240}>
              <PieChart>
                <Pie data={sentimentData} dataKey="value" nameKey="name" outerRadius={80} label isAnimationActive={false}>
                  {sentimentData.map((d, i) => (
                    <Cell key={d.name} fill={SENTIMENT_COLORS[d.name] ?? COLORS[i % COLORS.length]} />
                  ))}
                </Pie>
                <Tooltip />
                <Legend />
              </PieChart>
            </ResponsiveContainer>
          )}
        </Panel>
        <Panel title={t("overview.responseTimes")} query={times}>
          {timeData.length === 0 ? (
            <Empty>{t("overview.noData")}</Empty>
          ) : (
            <ResponsiveContainer width="100%" height={240}>
              <BarChart data={timeData}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="who" />
                <YAxis fontSize={12} />
                <Tooltip />
                <Legend />
                {(["p50", "p90", "p99"] as const).map((k, i) => (
                  <Bar key={k} dataKey={k} fill={COLORS[i]} isAnimationActive={false} />
                ))}
              </BarChart>
            </ResponsiveContainer>
          )}
        </Panel>
        <Panel title={t("overview.channels")} query={channels}>
          {channelRows.length === 0 ? (
            <Empty>{t("overview.noData")}</Empty>
          ) : (
            <ResponsiveContainer width="100%" height={240}>
              <BarChart data={channelRows.map((r) => ({ ...r, label: String(r.channel ?? r.name ?? r.platform ?? "") }))}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="label" />
                <YAxis fontSize={12} />
                <Tooltip />
                <Legend />
                {channelKeys.map((k, i) => (
                  <Bar key={k} dataKey={k} fill={COLORS[i % COLORS.length]} isAnimationActive={false} />
                ))}
              </BarChart>
            </ResponsiveContainer>
          )}
        </Panel>
        <Panel title={t("overview.intents")} query={insight}>
          {intents.length === 0 ? (
            <Empty>{t("overview.noData")}</Empty>
          ) : (
            <ResponsiveContainer width="100%" height={240}>
              <BarChart data={intents.slice(0, 8)} layout="vertical" margin={{ left: 24 }}>
                <XAxis type="number" allowDecimals={false} fontSize={12} />
                <YAxis type="category" dataKey="name" width={110} fontSize={12} />
                <Tooltip />
                <Bar dataKey="value" name={t("overview.count")} fill={COLORS[1]} isAnimationActive={false} />
              </BarChart>
            </ResponsiveContainer>
          )}
        </Panel>
        <Panel title={t("overview.gaps")} query={insight} wide>
          {gaps.length === 0 ? (
            <Empty>{t("overview.noData")}</Empty>
          ) : (
            <ul className="gaps">
              {gaps.slice(0, 10).map((gap) => (
                <li key={gap.question} className="row between wrap">
                  <span>
                    <strong dir="auto">{gap.question}</strong>
                    {gap.count !== null && <span className="muted"> × {gap.count}</span>}
                    {gap.examples.length > 1 && (
                      <span className="muted small" dir="auto">
                        {" "}
                        — {gap.examples.slice(1, 3).join(" · ")}
                      </span>
                    )}
                  </span>
                  <Link className="button" to={`/knowledge?upload=1&question=${encodeURIComponent(gap.question)}`}>
                    {t("overview.addAnswer")}
                  </Link>
                </li>
              ))}
            </ul>
          )}
        </Panel>
      </div>
    </div>
  );
}
