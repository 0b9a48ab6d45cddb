import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api, fieldErrors } from "../api/client";
import type { Channel, ChannelTestResult, Platform } from "../api/types";
import { ConfirmButton, CopyField, Empty, ErrorMessage, Field, formatDate, Loading } from "../components/ui";

function ConnectForm({ onCreated }: { onCreated: (c: Channel) => void }) {
  const { t } = useTranslation();
  const [platform, setPlatform] = useState<Platform>("whatsapp");
  const [values, setValues] = useState<Record<string, string>>({});
  const create = useMutation({
    mutationFn: () => {
      const body: Record<string, unknown> = { platform };
      for (const [key, value] of Object.entries(values)) if (value.trim()) body[key] = key === "token_expires_at" ? new Date(value).toISOString() : value.trim();
      return api.post<Channel>("/channels", body);
    },
    onSuccess: (channel) => {
      setValues({});
      onCreated(channel);
    },
  });
  const errors = fieldErrors(create.error);
  const fields: [string, string, string?][] =
    platform === "whatsapp"
      ? [["phone_number_id", "channels.phoneNumberId"], ["waba_id", "channels.wabaId"], ["display_phone_number", "channels.displayPhone"]]
      : [["instagram_account_id", "channels.instagramId"], ["page_id", "channels.pageId"]];
  fields.push(["name", "channels.name"], ["access_token", "channels.accessToken", "password"], ["app_secret", "channels.appSecret", "password"], ["verify_token", "channels.verifyTokenOpt"]);
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }
  return (
    <form className="card form-grid" onSubmit={submit} aria-labelledby="connect-title">
      <h2 id="connect-title">{t("channels.connect")}</h2>
      <fieldset className="row">
        <legend>{t("channels.platform")}</legend>
        {(["whatsapp", "instagram"] as const).map((p) => (
          <label key={p}>
            <input type="radio" name="platform" value={p} checked={platform === p} onChange={() => setPlatform(p)} /> {t(`channels.${p}`)}
          </label>
        ))}
      </fieldset>
      {fields.map(([key, label, type]) => (
        <Field key={key} label={t(label)} error={errors[key] ?? errors[`${platform}.${key}`]}>
          {(id, describedBy) => (
            <input id={id} type={type ?? "text"} autoComplete="off" aria-describedby={describedBy} value={values[key] ?? ""} onChange={(e) => setValues((v) => ({ ...v, [key]: e.target.value }))} />
          )}
        </Field>
      ))}
      <Field label={t("channels.tokenExpires")} error={errors.token_expires_at}>
        {(id) => <input id={id} type="date" value={values.token_expires_at ?? ""} onChange={(e) => setValues((v) => ({ ...v, token_expires_at: e.target.value }))} />}
      </Field>
      {create.error && Object.keys(errors).length === 0 && <ErrorMessage error={create.error} />}
      <div>
        <button type="submit" className="primary" disabled={create.isPending}>
          {t("channels.submit")}
        </button>
      </div>
    </form>
  );
}

function ChannelCard({ channel, verifyToken }: { channel: Channel; verifyToken?: string | null }) {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["channels"] });
  const toggle = useMutation({
    mutationFn: () => api.patch<Channel>(`/channels/${channel.id}`, { status: channel.status === "active" ? "paused" : "active" }),
    onSettled: refresh,
  });
  const test = useMutation({ mutationFn: () => api.post<ChannelTestResult>(`/channels/${channel.id}/test`) });
  const remove = useMutation({ mutationFn: () => api.delete(`/channels/${channel.id}`), onSettled: refresh });
  const expired = channel.token_expires_at !== null && new Date(channel.token_expires_at).getTime() < Date.now();
  const name = channel.name ?? channel.display_phone_number ?? channel.external_account_id;
  return (
    <article className="card" aria-label={name} data-testid="channel">
      <div className="row between wrap">
        <h3>
          {t(`channels.${channel.platform}`)} · <span dir="auto">{name}</span>
        </h3>
        <span className={`badge status-${channel.status}`}>{t(`channels.${channel.status}`)}</span>
      </div>
      {channel.paused_reason && <p className="muted">{channel.paused_reason}</p>}
      {(expired || channel.token_expiring_soon) && (
        <p className="notice warn" role="status">
          {expired ? t("channels.expired") : t("channels.expiring", { date: formatDate(channel.token_expires_at) })}
        </p>
      )}
      <CopyField label={t("channels.webhookUrl")} value={channel.webhook_url} />
      {verifyToken && (
        <>
          <CopyField label={t("channels.verifyToken")} value={verifyToken} />
          <p className="muted small">{t("channels.verifyTokenOnce")}</p>
        </>
      )}
      <div className="row wrap">
        <button type="button" onClick={() => test.mutate()} disabled={test.isPending}>
          {test.isPending ? t("channels.testing") : t("channels.test")}
        </button>
        <button type="button" onClick={() => toggle.mutate()} disabled={toggle.isPending}>
          {channel.status === "active" ? t("channels.pause") : t("channels.resume")}
        </button>
        <ConfirmButton className="danger" label={t("channels.disconnect")} question={t("channels.confirmDelete", { name })} onConfirm={() => remove.mutate()} />
      </div>
      {test.data && (
        <p role="status" className={test.data.ok ? "ok" : "error"}>
          {test.data.ok ? "✓ " : "✗ "}
          {test.data.message}
        </p>
      )}
      <ErrorMessage error={test.error ?? toggle.error ?? remove.error} />
    </article>
  );
}

export default function ChannelsPage() {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const [tokens, setTokens] = useState<Record<string, string | null | undefined>>({});
  const channels = useQuery({ queryKey: ["channels"], queryFn: () => api.get<Channel[]>("/channels") });
  return (
    <div className="page">
      <h1>{t("channels.title")}</h1>
      {channels.isPending ? <Loading /> : <ErrorMessage error={channels.error} />}
      {channels.data?.length === 0 && <Empty>{t("channels.none")}</Empty>}
      <div className="grid">
        {channels.data?.map((c) => <ChannelCard key={c.id} channel={c} verifyToken={tokens[c.id]} />)}
      </div>
      <ConnectForm
        onCreated={(c) => {
          setTokens((v) => ({ ...v, [c.id]: c.verify_token }));
          void queryClient.invalidateQueries({ queryKey: ["channels"] });
        }}
      />
    </div>
  );
}
