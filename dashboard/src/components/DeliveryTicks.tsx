import { useTranslation } from "react-i18next";

const MARKS: Record<string, string> = { pending: "🕓", queued: "🕓", sent: "✓", delivered: "✓✓", read: "✓✓", failed: "⚠" };

/** WhatsApp-style delivery ticks with a text label for screen readers. */
export function DeliveryTicks({ status }: { status: string | null | undefined }) {
  const { t } = useTranslation();
  if (!status) return null;
  const known = status in MARKS;
  const label = known ? t(`conversations.delivery_${status === "queued" ? "pending" : status}`) : status;
  return (
    <span className={`ticks ticks-${status}`} title={label} data-testid="ticks" data-status={status}>
      <span aria-hidden="true">{MARKS[status] ?? "·"}</span>
      <span className="visually-hidden">{label}</span>
    </span>
  );
}
