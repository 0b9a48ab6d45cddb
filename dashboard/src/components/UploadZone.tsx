import { useRef, useState, type DragEvent } from "react";
import { useTranslation } from "react-i18next";
import { api, type ApiClient } from "../api/client";
import type { KnowledgeDocument } from "../api/types";
import { formatBytes, ProgressBar } from "./ui";

export interface UploadItem {
  key: string;
  name: string;
  size: number;
  loaded: number;
  state: "uploading" | "done" | "error";
  error?: string;
}

const ACCEPT = ".pdf,.docx,.txt,.md,.csv,.json,.html,.htm";

/**
 * Drag-and-drop (or pick) several files; each is sent in its own request so each has its own
 * progress bar (XMLHttpRequest upload progress).
 */
export function UploadZone({ client = api, onUploaded, autoFocus = false }: { client?: ApiClient; onUploaded?: (docs: KnowledgeDocument[]) => void; autoFocus?: boolean }) {
  const { t } = useTranslation();
  const input = useRef<HTMLInputElement>(null);
  const [items, setItems] = useState<UploadItem[]>([]);
  const [over, setOver] = useState(false);

  function update(key: string, patch: Partial<UploadItem>) {
    setItems((list) => list.map((item) => (item.key === key ? { ...item, ...patch } : item)));
  }

  function start(files: FileList | File[]) {
    const list = Array.from(files);
    const added = list.map((file, i) => ({ key: `${Date.now()}-${i}-${file.name}`, name: file.name, size: file.size, loaded: 0, state: "uploading" as const }));
    setItems((current) => [...added, ...current]);
    list.forEach((file, i) => {
      const key = added[i]!.key;
      const form = new FormData();
      form.append("files", file, file.name);
      client
        .upload<KnowledgeDocument[]>("/knowledge", form, (p) => update(key, { loaded: p.loaded / Math.max(1, p.total) }))
        .then((docs) => {
          update(key, { loaded: 1, state: "done" });
          onUploaded?.(docs);
        })
        .catch((err: unknown) => update(key, { state: "error", error: err instanceof Error ? err.message : String(err) }));
    });
  }

  function onDrop(event: DragEvent) {
    event.preventDefault();
    setOver(false);
    if (event.dataTransfer.files.length) start(event.dataTransfer.files);
  }

  return (
    <section aria-label={t("knowledge.drop")}>
      <div
        className={`dropzone${over ? " over" : ""}`}
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
        data-testid="dropzone"
      >
        <p>{t("knowledge.drop")}</p>
        <button type="button" className="primary" autoFocus={autoFocus} onClick={() => input.current?.click()}>
          {t("knowledge.choose")}
        </button>
        <input
          ref={input}
          type="file"
          multiple
          accept={ACCEPT}
          className="visually-hidden"
          aria-label={t("knowledge.choose")}
          data-testid="file-input"
          onChange={(e) => {
            if (e.target.files?.length) start(e.target.files);
            e.target.value = "";
          }}
        />
        <small className="muted">{t("knowledge.accepted")}</small>
      </div>
      {items.length > 0 && (
        <ul className="uploads">
          {items.map((item) => (
            <li key={item.key} className={`upload ${item.state}`}>
              <div className="row between">
                <span className="ellipsis">{item.name}</span>
                <span className="muted small">
                  {formatBytes(item.size)} ·{" "}
                  {item.state === "uploading"
                    ? `${t("knowledge.uploading")} ${Math.round(item.loaded * 100)}%`
                    : item.state === "done"
                      ? t("knowledge.uploaded")
                      : t("knowledge.uploadFailed", { message: item.error })}
                </span>
              </div>
              <ProgressBar value={item.state === "error" ? 0 : item.loaded} label={item.name} />
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
