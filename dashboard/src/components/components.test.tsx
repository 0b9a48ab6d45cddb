import { describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { ApiClient, ApiError } from "../api/client";
import type { TenantSettings } from "../api/types";
import { SettingsForm } from "../pages/Settings";
import { settingsPatch } from "../pages/settingsForm";
import { DeliveryTicks } from "./DeliveryTicks";
import { ConfirmButton, sourceLabel } from "./ui";
import { UploadZone } from "./UploadZone";

const SETTINGS: TenantSettings = {
  bot_name: "Wafaa",
  persona: "warm",
  system_prompt_additions: "",
  default_language: "ar",
  languages: ["ar", "en"],
  greeting: "Welcome",
  fallback_message: "Not sure",
  handoff_message: "A human will reply",
  timezone: "Asia/Dubai",
  business_hours: { fri: [{ open: "12:00", close: "23:00" }] },
  retrieval: { chunk_size: 800, chunk_overlap: 100, top_k: 5, min_score: 0.3 },
  llm: { model: "gpt-4o-mini", temperature: 0.3, max_tokens: 512 },
};

describe("UploadZone", () => {
  it("uploads each dropped file on its own with its own progress bar", async () => {
    const calls: string[] = [];
    const resolvers: ((v: unknown) => void)[] = [];
    const client = {
      upload: vi.fn((_path: string, form: FormData, onProgress?: (p: { loaded: number; total: number }) => void) => {
        calls.push((form.get("files") as File).name);
        onProgress?.({ loaded: 30, total: 100 });
        return new Promise((resolve) => resolvers.push(resolve));
      }),
    } as unknown as ApiClient;
    const onUploaded = vi.fn();
    render(<UploadZone client={client} onUploaded={onUploaded} />);
    const files = [new File(["a"], "menu.pdf"), new File(["b"], "faq.md")];
    fireEvent.drop(screen.getByTestId("dropzone"), { dataTransfer: { files } });
    expect(calls).toEqual(["menu.pdf", "faq.md"]);
    const bars = screen.getAllByRole("progressbar");
    expect(bars.map((b) => b.getAttribute("aria-valuenow"))).toEqual(["30", "30"]);
    resolvers[0]!([{ id: "d1" }]);
    await waitFor(() => expect(screen.getByRole("progressbar", { name: "menu.pdf" })).toHaveAttribute("aria-valuenow", "100"));
    expect(onUploaded).toHaveBeenCalledWith([{ id: "d1" }]);
  });
});

describe("SettingsForm", () => {
  it("shows each 422 error next to its field and sends only what changed", async () => {
    const onSave = vi.fn();
    const error = new ApiError(422, "validation_error", "bad", [
      { loc: ["body", "fallback_message"], msg: "String should have at most 1000 characters" },
      { loc: ["body", "retrieval", "top_k"], msg: "Input should be less than or equal to 50" },
    ]);
    render(<SettingsForm initial={SETTINGS} onSave={onSave} error={error} saving={false} saved={false} />);
    const fallback = screen.getByLabelText("Fallback message");
    expect(fallback).toHaveAccessibleDescription("String should have at most 1000 characters");
    expect(screen.getByLabelText("Top K")).toHaveAccessibleDescription("Input should be less than or equal to 50");
    await userEvent.clear(fallback);
    await userEvent.type(fallback, "Sorry!");
    await userEvent.click(screen.getByRole("button", { name: "Save" }));
    expect(onSave).toHaveBeenCalledWith({ fallback_message: "Sorry!" });
  });

  it("diffs nested settings by top-level key", () => {
    expect(settingsPatch(SETTINGS, { ...SETTINGS, retrieval: { ...SETTINGS.retrieval, top_k: 8 } })).toEqual({ retrieval: { ...SETTINGS.retrieval, top_k: 8 } });
  });
});

describe("small components", () => {
  it("asks for confirmation before acting", async () => {
    const onConfirm = vi.fn();
    render(<ConfirmButton label="Delete" question="Delete menu.pdf?" onConfirm={onConfirm} />);
    await userEvent.click(screen.getByRole("button", { name: "Delete" }));
    expect(onConfirm).not.toHaveBeenCalled();
    await userEvent.click(screen.getByRole("button", { name: "Confirm" }));
    expect(onConfirm).toHaveBeenCalledOnce();
  });

  it("labels delivery ticks for screen readers", () => {
    render(<DeliveryTicks status="read" />);
    expect(screen.getByTestId("ticks")).toHaveTextContent("Read");
  });

  it("describes a source by document, page and section", () => {
    expect(sourceLabel({ title: "menu.pdf", location: { page: 2, section: "Hours" } })).toBe("menu.pdf · p. 2 · Hours");
    expect(sourceLabel({ document: { original_filename: "faq.md" } })).toBe("faq.md");
  });
});
