"use strict";
// Shared by the pages: signing in (one session per role, kept in sessionStorage so it ends
// with the tab), calling the REST API with the token, the websocket URL, and formatting.
const Baedal = (() => {
  const demo = document.documentElement.dataset.demo === "true";
  const storageKey = (role) => `baedal.session.${role}`;

  function session(role) {
    try {
      const saved = JSON.parse(sessionStorage.getItem(storageKey(role)) || "null");
      return saved && saved.expires > Date.now() ? saved : null;
    } catch (_) {
      return null;
    }
  }

  class ApiError extends Error {
    constructor(status, code, message, field) {
      super(message);
      this.status = status;
      this.code = code;
      this.field = field; // the request field at fault, when the server named one
    }
  }

  // A refusal in words for the page: the server's message, the field it named, its code.
  function explain(error) {
    const detail = [error.field && `field ${error.field}`, error.code].filter(Boolean).join(", ");
    return detail ? `${error.message} (${detail})` : error.message;
  }

  function remember(role, email, tokens) {
    const saved = {
      role,
      subject: tokens.subject,
      email,
      token: tokens.access_token,
      refresh: tokens.refresh_token,
      expires: Date.now() + tokens.expires_in * 1000,
    };
    sessionStorage.setItem(storageKey(role), JSON.stringify(saved));
    return saved;
  }

  function forget(role) {
    sessionStorage.removeItem(storageKey(role));
    location.reload();
  }

  // Trade the session's refresh token for new tokens (each works once); false when the
  // server refuses it (used, revoked, expired): then the caller signs in again.
  async function renew(role) {
    let current;
    try { current = JSON.parse(sessionStorage.getItem(storageKey(role)) || "null"); } catch (_) { current = null; }
    if (!current || !current.refresh) return false;
    const response = await fetch("/v1/auth/refresh", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ refresh_token: current.refresh }),
    }).catch(() => null);
    if (!response || !response.ok) return false;
    remember(role, current.email, await response.json());
    return true;
  }

  async function api(role, method, path, body, retried) {
    const current = session(role);
    const headers = { Accept: "application/json" };
    if (current) headers.Authorization = `Bearer ${current.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = await response.json().catch(() => null);
    if (response.status === 401 && current) {
      // An expired token is renewed once; a revoked one (or a failed renewal) means signing in again.
      const code = data && data.error && data.error.code;
      if (code === "token_expired" && !retried && (await renew(role))) return api(role, method, path, body, true);
      forget(role);
    }
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw new ApiError(response.status, error.code, error.message || response.statusText, error.field);
    }
    return data;
  }

  // Show the sign-in form until the caller has a session for `role`; resolves with it.
  function signIn(role, demoEmail) {
    const existing = session(role);
    const form = document.getElementById("login");
    const app = document.getElementById("app");
    if (existing) {
      form.hidden = true;
      app.hidden = false;
      showWho(existing);
      return Promise.resolve(existing);
    }
    form.hidden = false;
    app.hidden = true;
    if (demo) {
      form.elements.email.value = demoEmail;
      form.elements.password.value = "baedal-demo";
      form.querySelector(".hint").hidden = false;
    }
    return new Promise((resolve) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const out = form.querySelector(".error");
        out.textContent = "";
        try {
          const tokens = await api(role, "POST", "/v1/auth/login", {
            email: form.elements.email.value.trim(),
            password: form.elements.password.value,
          });
          if (tokens.role !== role) {
            out.textContent = `This page is for ${role} accounts; that one is a ${tokens.role} account.`;
            return;
          }
          const saved = remember(role, form.elements.email.value.trim(), tokens);
          form.hidden = true;
          app.hidden = false;
          showWho(saved);
          resolve(saved);
        } catch (error) {
          out.textContent = error.message;
        }
      });
    });
  }

  function showWho(current) {
    const who = document.querySelector("header .who");
    if (!who) return;
    who.textContent = `${current.email || current.role} · `;
    const out = document.createElement("a");
    out.href = "#";
    out.textContent = "sign out";
    out.addEventListener("click", async (event) => {
      event.preventDefault();
      // Revoke the tokens (and so close this session's sockets) before forgetting them.
      await fetch("/v1/auth/logout", {
        method: "POST",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${current.token}` },
        body: JSON.stringify({ refresh_token: current.refresh || "" }),
      }).catch(() => null);
      forget(current.role);
    });
    who.appendChild(out);
  }

  // A websocket that reconnects after a drop; `onMessage` gets each parsed frame.
  function socket(role, path, onMessage) {
    let delay = 1000;
    const open = () => {
      const current = session(role);
      if (!current) return;
      const scheme = location.protocol === "https:" ? "wss" : "ws";
      const ws = new WebSocket(`${scheme}://${location.host}${path}?access_token=${encodeURIComponent(current.token)}`);
      ws.onopen = () => { delay = 1000; };
      ws.onmessage = (event) => {
        try { onMessage(JSON.parse(event.data)); } catch (error) { console.error(error); }
      };
      ws.onclose = async (event) => {
        // 4001: the token expired; renew it and reconnect (the snapshot resumes where the page
        // was). 4003: revoked; sign in again. Anything else: reconnect with a growing delay.
        if (event.code === 4001) {
          if (await renew(role)) { open(); } else { forget(role); }
          return;
        }
        if (event.code === 4003) { forget(role); return; }
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 15000);
      };
    };
    open();
  }

  const statusLabels = {
    awaiting_payment: "paying",
    awaiting_store: "placed",
    preparing: "preparing",
    ready_for_pickup: "ready",
    picked_up: "on the way",
    delivered: "delivered",
    rejected: "rejected",
    cancelled: "cancelled",
  };

  function badge(status) {
    const span = document.createElement("span");
    span.className = `badge ${status}`;
    span.textContent = statusLabels[status] || status;
    return span;
  }

  const shortId = (id) => id.slice(0, 8);
  const clock = (iso) => (iso ? new Date(iso).toLocaleTimeString([], { hour12: false }) : "");
  function duration(secs) {
    if (secs === null || secs === undefined || !isFinite(secs)) return "–";
    const s = Math.max(0, Math.round(secs));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  }
  const money = (m) => (m ? `${m.amount.toLocaleString()} ${m.currency}` : "");

  // Equirectangular projection of a lat/lon box onto a width x height drawing.
  function projection(points, width, height, padMetres) {
    const lats = points.map((p) => p.lat);
    const lons = points.map((p) => p.lon);
    const midLat = (Math.min(...lats) + Math.max(...lats)) / 2;
    const kx = Math.cos((midLat * Math.PI) / 180) * 111320;
    const ky = 111320;
    let x0 = Math.min(...lons) * kx - padMetres, x1 = Math.max(...lons) * kx + padMetres;
    let y0 = Math.min(...lats) * ky - padMetres, y1 = Math.max(...lats) * ky + padMetres;
    const scale = Math.min(width / (x1 - x0), height / (y1 - y0));
    const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
    return {
      scale, // pixels per metre
      at: (p) => [width / 2 + (p.lon * kx - cx) * scale, height / 2 - (p.lat * ky - cy) * scale],
    };
  }

  // Run `onClick` for button `b` once at a time: disabled until it has finished, whatever
  // the outcome.
  async function busy(b, onClick) {
    b.disabled = true;
    try { await onClick(); } finally { b.disabled = false; }
  }

  // A button that runs `onClick` once at a time; `action` names it for the tests (data-action).
  function button(label, kind, action, onClick) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = kind;
    b.textContent = label;
    b.dataset.action = action;
    b.addEventListener("click", () => busy(b, onClick));
    return b;
  }

  return { demo, session, api, signIn, socket, badge, busy, button, statusLabels, shortId, clock, duration, money, projection, ApiError, explain };
})();
