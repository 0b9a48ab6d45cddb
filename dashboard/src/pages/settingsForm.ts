import type { TenantSettings } from "../api/types";

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;

/** Only the top-level settings that changed, so the audit log records exactly what the admin did. */
export function settingsPatch(before: TenantSettings, after: TenantSettings): Partial<TenantSettings> {
  const patch: Record<string, unknown> = {};
  for (const key of Object.keys(after) as (keyof TenantSettings)[]) {
    if (JSON.stringify(after[key]) !== JSON.stringify(before[key])) patch[key] = after[key];
  }
  return patch as Partial<TenantSettings>;
}
