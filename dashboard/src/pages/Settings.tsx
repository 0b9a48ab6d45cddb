import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api, fieldErrors } from "../api/client";
import type { Language, Tenant, TenantSettings } from "../api/types";
import { ErrorMessage, Field, Loading } from "../components/ui";
import { settingsPatch, WEEKDAYS } from "./settingsForm";

const LANGUAGES: Language[] = ["ar", "en", "fr", "ur", "hi"];

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <fieldset className="card form-grid">
      <legend>
        <h2>{title}</h2>
      </legend>
      {children}
    </fieldset>
  );
}

export function SettingsForm({ initial, onSave, error, saving, saved }: { initial: TenantSettings; onSave: (patch: Partial<TenantSettings>) => void; error: unknown; saving: boolean; saved: boolean }) {
  const { t } = useTranslation();
  const [form, setForm] = useState<TenantSettings>(initial);
  useEffect(() => setForm(initial), [initial]);
  const errors = fieldErrors(error);
  const err = (key: string) => errors[key] ?? Object.entries(errors).find(([k]) => k.startsWith(`${key}.`))?.[1];
  const set = <K extends keyof TenantSettings>(key: K, value: TenantSettings[K]) => setForm((f) => ({ ...f, [key]: value }));

  function text(key: "bot_name" | "timezone", label: string) {
    return (
      <Field label={label} error={err(key)}>
        {(id, d) => <input id={id} aria-describedby={d} aria-invalid={!!err(key)} value={form[key]} onChange={(e) => set(key, e.target.value)} />}
      </Field>
    );
  }
  function area(key: "persona" | "system_prompt_additions" | "greeting" | "fallback_message" | "handoff_message", label: string) {
    return (
      <Field label={label} error={err(key)}>
        {(id, d) => <textarea id={id} dir="auto" rows={3} aria-describedby={d} aria-invalid={!!err(key)} value={form[key]} onChange={(e) => set(key, e.target.value)} />}
      </Field>
    );
  }
  function num<S extends "retrieval" | "llm">(section: S, key: keyof TenantSettings[S] & string, label: string, step = 1) {
    const path = `${section}.${key}`;
    const value = form[section][key] as unknown as number;
    return (
      <Field label={label} error={err(path)}>
        {(id, d) => (
          <input
            id={id}
            type="number"
            step={step}
            aria-describedby={d}
            aria-invalid={!!err(path)}
            value={Number.isNaN(value) ? "" : value}
            onChange={(e) => set(section, { ...form[section], [key]: e.target.value === "" ? NaN : Number(e.target.value) })}
          />
        )}
      </Field>
    );
  }

  function submit(event: FormEvent) {
    event.preventDefault();
    onSave(settingsPatch(initial, form));
  }

  return (
    <form onSubmit={submit} noValidate className="stack">
      <Section title={t("settings.persona")}>
        {text("bot_name", t("settings.botName"))}
        {area("persona", t("settings.personaText"))}
        {area("system_prompt_additions", t("settings.additions"))}
      </Section>
      <Section title={t("settings.languages")}>
        <Field label={t("settings.defaultLanguage")} error={err("default_language")}>
          {(id, d) => (
            <select id={id} aria-describedby={d} value={form.default_language} onChange={(e) => set("default_language", e.target.value as Language)}>
              {LANGUAGES.map((l) => (
                <option key={l} value={l}>
                  {t(`languages.${l}`)}
                </option>
              ))}
            </select>
          )}
        </Field>
        <fieldset className="row wrap">
          <legend>{t("settings.languages")}</legend>
          {LANGUAGES.map((l) => (
            <label key={l}>
              <input
                type="checkbox"
                checked={form.languages.includes(l)}
                onChange={(e) => set("languages", e.target.checked ? [...form.languages, l] : form.languages.filter((x) => x !== l))}
              />{" "}
              {t(`languages.${l}`)}
            </label>
          ))}
          {err("languages") && <small className="field-error" role="alert">{err("languages")}</small>}
        </fieldset>
      </Section>
      <Section title={t("settings.messages")}>
        {area("greeting", t("settings.greeting"))}
        {area("fallback_message", t("settings.fallback"))}
        {area("handoff_message", t("settings.handoffMessage"))}
      </Section>
      <Section title={t("settings.hours")}>
        {text("timezone", t("settings.timezone"))}
        <div className="hours">
          {WEEKDAYS.map((day) => {
            const slot = form.business_hours[day]?.[0];
            const update = (open: string, close: string) => set("business_hours", { ...form.business_hours, [day]: [{ open, close }] });
            return (
              <div key={day} className="row wrap hours-row">
                <span className="day">{t(`settings.day_${day}`)}</span>
                <label>
                  <input
                    type="checkbox"
                    checked={!slot}
                    onChange={(e) => {
                      const next = { ...form.business_hours };
                      if (e.target.checked) delete next[day];
                      else next[day] = [{ open: "09:00", close: "22:00" }];
                      set("business_hours", next);
                    }}
                  />{" "}
                  {t("settings.closed")}
                </label>
                {slot && (
                  <>
                    <label>
                      {t("settings.open")} <input type="time" value={slot.open} onChange={(e) => update(e.target.value, slot.close)} />
                    </label>
                    <label>
                      {t("settings.close")} <input type="time" value={slot.close} onChange={(e) => update(slot.open, e.target.value)} />
                    </label>
                  </>
                )}
                {err(`business_hours.${day}`) && <small className="field-error" role="alert">{err(`business_hours.${day}`)}</small>}
              </div>
            );
          })}
        </div>
      </Section>
      <Section title={t("settings.retrieval")}>
        {num("retrieval", "chunk_size", t("settings.chunkSize"))}
        {num("retrieval", "chunk_overlap", t("settings.chunkOverlap"))}
        {num("retrieval", "top_k", t("settings.topK"))}
        {num("retrieval", "min_score", t("settings.minScore"), 0.05)}
      </Section>
      <Section title={t("settings.llm")}>
        <Field label={t("settings.model")} error={err("llm.model")}>
          {(id, d) => <input id={id} aria-describedby={d} value={form.llm.model} onChange={(e) => set("llm", { ...form.llm, model: e.target.value })} />}
        </Field>
        {num("llm", "temperature", t("settings.temperature"), 0.1)}
        {num("llm", "max_tokens", t("settings.maxTokens"))}
      </Section>
      {Object.keys(errors).length > 0 ? (
        <p role="alert" className="error">
          {t("settings.invalid")}
        </p>
      ) : (
        <ErrorMessage error={error} />
      )}
      <div className="row sticky-actions">
        <button type="submit" className="primary" disabled={saving}>
          {saving ? t("common.saving") : t("common.save")}
        </button>
        {saved && (
          <span role="status" className="ok">
            {t("common.saved")}
          </span>
        )}
      </div>
    </form>
  );
}

export default function SettingsPage() {
  const { t } = useTranslation();
  const queryClient = useQueryClient();
  const tenant = useQuery({ queryKey: ["tenant"], queryFn: () => api.get<Tenant>("/tenants/me") });
  const save = useMutation({
    mutationFn: (patch: Partial<TenantSettings>) => api.patch<Tenant>("/tenants/me/settings", patch),
    onSuccess: (data) => queryClient.setQueryData(["tenant"], data),
  });
  return (
    <div className="page">
      <h1>{t("settings.title")}</h1>
      {tenant.isPending ? <Loading /> : <ErrorMessage error={tenant.error} />}
      {tenant.data && <SettingsForm initial={tenant.data.settings} onSave={(p) => save.mutate(p)} error={save.error} saving={save.isPending} saved={save.isSuccess} />}
    </div>
  );
}
