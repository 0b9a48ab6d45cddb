import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { api, type ApiClient } from "../api/client";
import type { User } from "../api/types";

interface AuthState {
  user: User | null;
  ready: boolean;
  login(email: string, password: string): Promise<void>;
  logout(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children, client = api }: { children: ReactNode; client?: ApiClient }) {
  const queryClient = useQueryClient();
  const [user, setUser] = useState<User | null>(null);
  const [ready, setReady] = useState(!client.hasSession());

  useEffect(() => {
    let alive = true;
    if (client.hasSession()) {
      client
        .get<User>("/auth/me")
        .then((me) => alive && setUser(me))
        .catch(() => alive && client.clear())
        .finally(() => alive && setReady(true));
    }
    const off = client.onAuthChange((authenticated) => {
      if (!authenticated) {
        setUser(null);
        queryClient.clear();
      }
    });
    return () => {
      alive = false;
      off();
    };
  }, [client, queryClient]);

  const login = useCallback(
    async (email: string, password: string) => {
      await client.login(email, password);
      setUser(await client.get<User>("/auth/me"));
    },
    [client],
  );

  const logout = useCallback(async () => {
    await client.logout();
    setUser(null);
    queryClient.clear();
  }, [client, queryClient]);

  const value = useMemo(() => ({ user, ready, login, logout }), [user, ready, login, logout]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const value = useContext(AuthContext);
  if (!value) throw new Error("useAuth outside AuthProvider");
  return value;
}
