import { useTranslation } from "react-i18next";
import type { Source } from "../api/types";
import { sourceLabel } from "./ui";

export function Sources({ sources }: { sources: Source[] | undefined }) {
  const { t } = useTranslation();
  if (!sources || sources.length === 0) return null;
  return (
    <details className="sources" open>
      <summary>
        {t("chat.sources")} ({sources.length})
      </summary>
      <ul>
        {sources.map((source, i) => (
          <li key={`${String(source.chunk_id ?? "")}-${i}`} data-testid="source">
            {sourceLabel(source)}
          </li>
        ))}
      </ul>
    </details>
  );
}
