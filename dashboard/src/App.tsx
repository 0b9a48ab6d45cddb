import { lazy, Suspense, type ReactNode } from "react";
import { Navigate, Route, Routes, useLocation } from "react-router";
import { useAuth } from "./auth/AuthContext";
import { Layout } from "./components/Layout";
import { Loading } from "./components/ui";
import { LoginPage } from "./pages/Login";

// Every page but the login is its own chunk, so the first load stays small.
const loadOverview = () => import("./pages/Overview");
// the overview is the landing page: fetch its chunk while the session is being restored
if (typeof window !== "undefined" && window.location.pathname === "/") void loadOverview();
const Overview = lazy(loadOverview);
const Knowledge = lazy(() => import("./pages/Knowledge"));
const Chat = lazy(() => import("./pages/Chat"));
const Conversations = lazy(() => import("./pages/Conversations"));
const Channels = lazy(() => import("./pages/Channels"));
const Settings = lazy(() => import("./pages/Settings"));
const Team = lazy(() => import("./pages/Team"));
const Audit = lazy(() => import("./pages/Audit"));

function RequireAuth({ children }: { children: ReactNode }) {
  const { user, ready } = useAuth();
  const location = useLocation();
  if (!ready) return <Loading />;
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return children;
}

function page(element: ReactNode) {
  return <Suspense fallback={<Loading />}>{element}</Suspense>;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        element={
          <RequireAuth>
            <Layout />
          </RequireAuth>
        }
      >
        <Route index element={page(<Overview />)} />
        <Route path="knowledge" element={page(<Knowledge />)} />
        <Route path="chat" element={page(<Chat />)} />
        <Route path="conversations" element={page(<Conversations />)} />
        <Route path="conversations/:id" element={page(<Conversations />)} />
        <Route path="channels" element={page(<Channels />)} />
        <Route path="settings" element={page(<Settings />)} />
        <Route path="team" element={page(<Team />)} />
        <Route path="audit" element={page(<Audit />)} />
        <Route path="*" element={<Navigate to="/" replace />} />
      </Route>
    </Routes>
  );
}
