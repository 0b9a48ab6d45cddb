import { useState } from "react";
import { NavLink, Outlet } from "react-router";
import { useTranslation } from "react-i18next";
import { useAuth } from "../auth/AuthContext";

const LINKS = [
  ["/", "nav.overview"],
  ["/knowledge", "nav.knowledge"],
  ["/chat", "nav.chat"],
  ["/conversations", "nav.conversations"],
  ["/channels", "nav.channels"],
  ["/settings", "nav.settings"],
  ["/team", "nav.team"],
  ["/audit", "nav.audit"],
] as const;

export function Layout() {
  const { t } = useTranslation();
  const { user, logout } = useAuth();
  const [open, setOpen] = useState(false);
  return (
    <div className="shell">
      <a className="skip" href="#main">
        {t("app.skip")}
      </a>
      <header className="topbar">
        <button type="button" className="menu-toggle" aria-expanded={open} aria-controls="nav" onClick={() => setOpen((o) => !o)}>
          {t("app.menu")}
        </button>
        <strong className="brand">{t("app.name")}</strong>
        <span className="muted small hide-narrow">{user ? t("app.signedInAs", { email: user.email }) : null}</span>
        <button type="button" onClick={() => void logout()}>
          {t("nav.logout")}
        </button>
      </header>
      <nav id="nav" className={`sidebar${open ? " open" : ""}`} aria-label="Main">
        <ul>
          {LINKS.map(([to, key]) => (
            <li key={to}>
              <NavLink to={to} end={to === "/"} onClick={() => setOpen(false)}>
                {t(key)}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" tabIndex={-1}>
        <Outlet />
      </main>
    </div>
  );
}
