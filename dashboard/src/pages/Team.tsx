import { useState, type FormEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslation } from "react-i18next";
import { api, fieldErrors } from "../api/client";
import type { Role, User } from "../api/types";
import { useAuth } from "../auth/AuthContext";
import { ConfirmButton, ErrorMessage, Field, formatDate, Loading } from "../components/ui";

const ROLES: Role[] = ["owner", "admin", "agent"];

export default function TeamPage() {
  const { t } = useTranslation();
  const { user: me } = useAuth();
  const queryClient = useQueryClient();
  const users = useQuery({ queryKey: ["users"], queryFn: () => api.get<User[]>("/tenants/me/users") });
  const refresh = () => void queryClient.invalidateQueries({ queryKey: ["users"] });
  const update = useMutation({ mutationFn: ({ id, ...patch }: { id: string; role?: Role; status?: string }) => api.patch<User>(`/tenants/me/users/${id}`, patch), onSettled: refresh });
  const remove = useMutation({ mutationFn: (id: string) => api.delete(`/tenants/me/users/${id}`), onSettled: refresh });
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [role, setRole] = useState<Role>("agent");
  const create = useMutation({
    mutationFn: () => api.post<User>("/tenants/me/users", { email, password, role }),
    onSuccess: () => {
      setEmail("");
      setPassword("");
      refresh();
    },
  });
  const errors = fieldErrors(create.error);
  function submit(event: FormEvent) {
    event.preventDefault();
    create.mutate();
  }
  return (
    <div className="page">
      <h1>{t("team.title")}</h1>
      <section className="card">
        {users.isPending ? <Loading /> : <ErrorMessage error={users.error} />}
        <ErrorMessage error={update.error ?? remove.error} />
        {users.data && (
          <div className="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">{t("team.email")}</th>
                  <th scope="col">{t("team.role")}</th>
                  <th scope="col">{t("team.status")}</th>
                  <th scope="col">{t("knowledge.updated")}</th>
                  <th scope="col">{t("knowledge.actions")}</th>
                </tr>
              </thead>
              <tbody>
                {users.data.map((u) => (
                  <tr key={u.id}>
                    <td>
                      {u.email} {u.id === me?.id && <span className="muted">{t("team.you")}</span>}
                    </td>
                    <td>
                      <label>
                        <span className="visually-hidden">{t("team.role")}</span>
                        <select value={u.role} disabled={u.id === me?.id} onChange={(e) => update.mutate({ id: u.id, role: e.target.value as Role })}>
                          {ROLES.map((r) => (
                            <option key={r} value={r}>
                              {t(`team.role_${r}`)}
                            </option>
                          ))}
                        </select>
                      </label>
                    </td>
                    <td>
                      <span className={`badge status-${u.status}`}>{u.status}</span>
                    </td>
                    <td className="small">{formatDate(u.updated_at)}</td>
                    <td className="actions">
                      {u.id !== me?.id && (
                        <>
                          <button type="button" onClick={() => update.mutate({ id: u.id, status: u.status === "active" ? "disabled" : "active" })}>
                            {u.status === "active" ? t("team.disable") : t("team.enable")}
                          </button>
                          <ConfirmButton className="danger" label={t("team.remove")} question={t("team.confirmRemove", { email: u.email })} onConfirm={() => remove.mutate(u.id)} />
                        </>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <form className="card form-grid" onSubmit={submit} aria-labelledby="add-user">
        <h2 id="add-user">{t("team.add")}</h2>
        <Field label={t("team.email")} error={errors.email}>
          {(id, d) => <input id={id} type="email" required aria-describedby={d} value={email} onChange={(e) => setEmail(e.target.value)} />}
        </Field>
        <Field label={t("team.password")} error={errors.password}>
          {(id, d) => <input id={id} type="password" autoComplete="new-password" required aria-describedby={d} value={password} onChange={(e) => setPassword(e.target.value)} />}
        </Field>
        <Field label={t("team.role")} error={errors.role}>
          {(id) => (
            <select id={id} value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r} value={r}>
                  {t(`team.role_${r}`)}
                </option>
              ))}
            </select>
          )}
        </Field>
        {create.error && Object.keys(errors).length === 0 && <ErrorMessage error={create.error} />}
        <div>
          <button type="submit" className="primary" disabled={create.isPending}>
            {t("team.add")}
          </button>
        </div>
      </form>
    </div>
  );
}
