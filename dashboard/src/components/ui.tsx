import { useEffect, useId, useRef, useState, type ReactNode } from "react";
import { useTranslation } from "react-i18next";
import { ApiError } from "../api/client";

export function ErrorMessage({ error }: { error: unknown }) {
  const { t } = useTranslation();
  if (!error) return null;
  const message = error instanceof Error ? error.message : String(error);
  return (
    <p role="alert" className="error">
      {t("common.error", { message })}
    </p>
  );
}

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && (error.status === 404 || error.status === 405);
}

export function Empty({ children }: { children?: ReactNode }) {
  const { t } = useTranslation();
  return <p className="empty">{children ?? t("common.empty")}</p>;
}

export function Loading() {
  const { t } = useTranslation();
  return (
    <p className="muted" role="status">
      {t("common.loading")}
    </p>
  );
}

export function ProgressBar({ value, label }: { value: number; label: string }) {
  const percent = Math.round(Math.max(0, Math.min(1, value)) * 100);
  return (
    <div className="progress" role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
      <div className="progress-fill" style={{ width: `${percent}%` }} />
    </div>
  );
}

/** A labelled form field with its validation error under it (linked by aria-describedby). */
export function Field({ label, error, children, hint }: { label: string; error?: string; hint?: string; children: (id: string, describedBy?: string) => ReactNode }) {
  const id = useId();
  const errorId = `${id}-error`;
  return (
    <div className={`field${error ? " has-error" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children(id, error ? errorId : undefined)}
      {hint && <small className="muted">{hint}</small>}
      {error && (
        <small id={errorId} className="field-error" role="alert">
          {error}
        </small>
      )}
    </div>
  );
}

/** A button that asks for confirmation in a modal <dialog> before running its action. */
export function ConfirmButton({ label, question, onConfirm, className = "", disabled }: { label: string; question: string; onConfirm: () => void; className?: string; disabled?: boolean }) {
  const { t } = useTranslation();
  const ref = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      if (typeof dialog.showModal === "function") dialog.showModal();
      else dialog.setAttribute("open", "");
    } else if (!open && dialog.open) {
      if (typeof dialog.close === "function") dialog.close();
      else dialog.removeAttribute("open");
    }
  }, [open]);
  return (
    <>
      <button type="button" className={className} disabled={disabled} onClick={() => setOpen(true)}>
        {label}
      </button>
      <dialog ref={ref} onClose={() => setOpen(false)} aria-label={question}>
        {open && (
          <form method="dialog" className="dialog-body">
            <p>{question}</p>
            <div className="row end">
              <button type="button" onClick={() => setOpen(false)}>
                {t("common.cancel")}
              </button>
              <button
                type="button"
                className="danger"
                autoFocus
                onClick={() => {
                  setOpen(false);
                  onConfirm();
                }}
              >
                {t("common.confirm")}
              </button>
            </div>
          </form>
        )}
      </dialog>
    </>
  );
}

export function CopyField({ label, value }: { label: string; value: string }) {
  const { t } = useTranslation();
  const id = useId();
  const [copied, setCopied] = useState(false);
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      <div className="row">
        <input id={id} readOnly value={value} className="mono grow" onFocus={(e) => e.currentTarget.select()} />
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard?.writeText(value).then(() => setCopied(true));
            setTimeout(() => setCopied(false), 1500);
          }}
        >
          {copied ? t("common.copied") : t("common.copy")}
        </button>
      </div>
    </div>
  );
}

/** Where a source came from, for display: "menu.pdf · p. 2 · Hours". */
export function sourceLabel(source: Record<string, unknown>): string {
  const location = (source.location && typeof source.location === "object" ? source.location : {}) as Record<string, unknown>;
  const doc = source.document && typeof source.document === "object" ? (source.document as Record<string, unknown>) : {};
  const name = [source.title, source.original_filename, source.filename, doc.title, doc.original_filename, source.document_title].find(
    (v): v is string => typeof v === "string" && v.length > 0,
  );
  const page = source.page ?? location.page ?? location.page_number;
  const section = source.section ?? location.section ?? location.heading;
  const parts = [name ?? "document"];
  if (page !== undefined && page !== null) parts.push(`p. ${String(page)}`);
  if (typeof section === "string" && section) parts.push(section);
  return parts.join(" · ");
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return "—";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toLocaleString();
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
