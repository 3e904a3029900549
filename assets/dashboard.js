"use strict";
// The operator dashboard: polls GET /v1/ops/city about once a second and redraws the map,
// the figures and the table. Elements are keyed by id and updated in place, so riders glide
// from one reported position to the next instead of blinking.
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const W = 1000, H = 720;
  let proj = null;
  let lastOk = 0;

  const el = (name, attrs) => {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  };

  // Keep one child of `layer` per key: create missing ones, drop the rest.
  function keyed(layer, items, key, create, update) {
    const seen = new Set();
    for (const item of items) {
      const k = key(item);
      seen.add(k);
      let node = layer.querySelector(`[data-key="${k}"]`);
      if (!node) {
        node = create(item);
        node.dataset.key = k;
        layer.appendChild(node);
      }
      update(node, item);
    }
    for (const node of [...layer.children]) if (!seen.has(node.dataset.key)) node.remove();
  }

  function drawGrid() {
    const grid = document.getElementById("grid");
    grid.replaceChildren();
    const step = 500 * proj.scale; // a line every 500 m
    for (let x = (W / 2) % step; x < W; x += step) grid.appendChild(el("line", { class: "grid-line", x1: x, y1: 0, x2: x, y2: H }));
    for (let y = (H / 2) % step; y < H; y += step) grid.appendChild(el("line", { class: "grid-line", x1: 0, y1: y, x2: W, y2: y }));
    const scale = document.getElementById("scale");
    scale.replaceChildren(
      el("line", { class: "scale", x1: 20, y1: H - 20, x2: 20 + 1000 * proj.scale, y2: H - 20 }),
      Object.assign(el("text", { class: "scale-label", x: 20, y: H - 28 }), { textContent: "1 km" }),
    );
  }

  function drawMap(city) {
    if (!proj) {
      const points = city.stores.map((s) => s.location).concat(city.riders.filter((r) => r.position).map((r) => r.position));
      if (points.length === 0) return;
      proj = Baedal.projection(points, W, H, 600);
      drawGrid();
    }
    const at = (p) => proj.at(p);
    const stores = new Map(city.stores.map((s) => [s.id, s]));

    keyed(document.getElementById("stores"), city.stores, (s) => s.id,
      (s) => {
        const g = el("g", { class: "store", "data-store": s.id });
        g.append(el("rect", { width: 14, height: 14, x: -7, y: -7, rx: 3 }), el("text", { class: "store-label", x: 10, y: 4 }));
        g.querySelector("text").textContent = s.name;
        return g;
      },
      (g, s) => {
        const [x, y] = at(s.location);
        g.setAttribute("transform", `translate(${x.toFixed(1)},${y.toFixed(1)})`);
        g.querySelector("rect").setAttribute("class", `store-mark${s.open ? "" : " closed"}`);
      });

    keyed(document.getElementById("routes"), city.open_orders, (o) => o.id,
      () => el("line", { class: "route" }),
      (line, o) => {
        const [x1, y1] = at(o.pickup_point), [x2, y2] = at(o.delivery_point);
        Object.entries({ x1, y1, x2, y2 }).forEach(([k, v]) => line.setAttribute(k, v.toFixed(1)));
      });

    keyed(document.getElementById("dropoffs"), city.open_orders, (o) => o.id,
      (o) => {
        const c = el("circle", { r: 5, "data-order": o.id });
        c.appendChild(el("title"));
        return c;
      },
      (c, o) => {
        const [x, y] = at(o.delivery_point);
        c.setAttribute("cx", x.toFixed(1));
        c.setAttribute("cy", y.toFixed(1));
        c.setAttribute("class", `dropoff${o.rider_id ? "" : " waiting"}`);
        c.querySelector("title").textContent = `order ${Baedal.shortId(o.id)} · ${Baedal.statusLabels[o.status] || o.status} · ${stores.get(o.store_id)?.name || ""}`;
      });

    // An assignment line from each busy rider to where it is heading.
    const busy = city.riders.filter((r) => r.position && r.order_id && r.state !== "offline");
    const orders = new Map(city.open_orders.map((o) => [o.id, o]));
    keyed(document.getElementById("assignments"), busy.filter((r) => orders.has(r.order_id)), (r) => r.id,
      () => el("line"),
      (line, r) => {
        const o = orders.get(r.order_id);
        const [x1, y1] = at(r.position);
        const [x2, y2] = at(r.state === "to_customer" ? o.delivery_point : o.pickup_point);
        line.setAttribute("class", `assignment ${r.state}`);
        line.setAttribute("data-order", o.id);
        Object.entries({ x1, y1, x2, y2 }).forEach(([k, v]) => line.setAttribute(k, v.toFixed(1)));
      });

    keyed(document.getElementById("riders"), city.riders.filter((r) => r.position), (r) => r.id,
      (r) => {
        const c = el("circle", { r: 6, cx: 0, cy: 0, "data-rider": r.id });
        c.appendChild(el("title"));
        return c;
      },
      (c, r) => {
        const [x, y] = at(r.position);
        const unanswering = r.offline_reason === "unanswered_offers";
        c.setAttribute("class", `rider ${r.state}${unanswering ? " unanswering" : ""}`);
        c.dataset.state = r.state;
        c.dataset.lat = r.position.lat;
        c.dataset.lon = r.position.lon;
        c.style.transform = `translate(${x.toFixed(1)}px, ${y.toFixed(1)}px)`;
        c.querySelector("title").textContent =
          `${r.name} · ${r.state.replace("_", " ")}${unanswering ? " (set offline: offers went unanswered)" : ""}`;
      });
  }

  // A kitchen well past the ready time it promised (the server flags it, `kitchen_late_at`)
  // and still cooking. Once the food is ready the order keeps the flag as a record.
  const lateKitchen = (o) => Boolean(o.kitchen_late_at) && o.status === "preparing";

  function drawKpis(city) {
    const k = city.kpis;
    // The board's own count when the server sends it; every open order is in the list, so
    // counting them here gives the same figure.
    const late = k.kitchens_late ?? city.open_orders.filter(lateKitchen).length;
    const tiles = [
      ["orders-today", "orders today", k.orders_today],
      ["delivered-today", "delivered today", k.delivered_today],
      ["open-orders", "open orders", k.open_orders],
      ["waiting-for-rider", "waiting for a rider", k.waiting_for_rider],
      ["kitchens-late", "kitchens late", late, late > 0],
      ["click-to-door", "mean click-to-door", Baedal.duration(k.mean_click_to_door_secs)],
      ["riders-idle", "riders idle", k.riders_idle],
      ["riders-busy", "riders on a job", k.riders_busy],
      ["riders-offline", "riders offline", k.riders_offline],
      // Set offline by the platform after letting offers lapse: worth a call to the rider.
      ["riders-unanswering", "riders not answering", k.riders_unanswering ?? 0, (k.riders_unanswering ?? 0) > 0],
      ["cancelled-today", "cancelled / rejected", `${k.cancelled_today} / ${k.rejected_today}`],
    ];
    keyed(document.getElementById("kpis"), tiles, (t) => t[0],
      (t) => {
        const div = document.createElement("div");
        div.className = "panel kpi";
        div.id = `kpi-${t[0]}`;
        div.innerHTML = `<div class="value"></div><div class="label"></div>`;
        div.querySelector(".label").textContent = t[1];
        return div;
      },
      (div, t) => {
        div.querySelector(".value").textContent = String(t[2]);
        div.classList.toggle("alert", Boolean(t[3]));
      });
  }

  // The mark of a kitchen that ran well past its promise, with the times in its tooltip.
  function kitchenFlag(o, flag) {
    const span = document.createElement("span");
    span.className = `flag ${flag}`;
    span.textContent = flag === "late" ? "kitchen late" : "was late";
    const promised = o.ready_by ? `promised ${Baedal.clock(o.ready_by)} · ` : "";
    span.title = `${promised}operator alerted ${Baedal.clock(o.kitchen_late_at)}`;
    return span;
  }

  function drawTable(city) {
    const stores = new Map(city.stores.map((s) => [s.id, s.name]));
    const riders = new Map(city.riders.map((r) => [r.id, r.name]));
    const now = Date.now();
    const rows = city.open_orders.slice().reverse().concat(city.finished_orders);
    keyed(document.getElementById("orders"), rows, (o) => o.id,
      (o) => {
        const tr = document.createElement("tr");
        tr.dataset.order = o.id;
        tr.innerHTML = `<td class="mono"><a></a></td><td></td><td></td><td></td><td class="muted"></td><td class="muted"></td>`;
        const link = tr.querySelector("a");
        link.href = `/track/${o.id}`;
        link.textContent = Baedal.shortId(o.id);
        return tr;
      },
      (tr, o) => {
        const cells = tr.children;
        const finished = ["delivered", "cancelled", "rejected"].includes(o.status);
        tr.dataset.status = o.status;
        tr.classList.toggle("finished", finished);
        tr.classList.toggle("opened", o.id === opened);
        cells[1].textContent = stores.get(o.store_id) || Baedal.shortId(o.store_id);
        const flag = lateKitchen(o) ? "late" : o.kitchen_late_at ? "was-late" : "";
        if (cells[2].dataset.status !== o.status || cells[2].dataset.flag !== flag) {
          cells[2].dataset.status = o.status;
          cells[2].dataset.flag = flag;
          cells[2].replaceChildren(Baedal.badge(o.status));
          if (flag) cells[2].append(" ", kitchenFlag(o, flag));
        }
        cells[3].textContent = o.rider_id ? riders.get(o.rider_id) || Baedal.shortId(o.rider_id) : o.dispatch === "searching" ? "searching…" : "";
        cells[4].textContent = Baedal.clock(o.placed_at);
        const end = finished ? new Date(o.updated_at).getTime() : now;
        cells[5].textContent = Baedal.duration((end - new Date(o.placed_at).getTime()) / 1000);
      });
    // Keep the table in the order given: open orders newest first, then the finished ones.
    const body = document.getElementById("orders");
    rows.forEach((o) => body.appendChild(body.querySelector(`[data-key="${o.id}"]`)));
  }

  // Why an order went to its rider: each offer's candidates, costs and verdicts. Opened
  // by clicking an order's row; kept fresh while open.
  let opened = null;
  let scrollToLog = false;
  let riderNames = new Map();
  const verdicts = {
    chosen: () => "offered",
    farther: () => "farther than the one chosen",
    offered_another_order: (c) => `offered order ${Baedal.shortId(c.order)} instead`,
    kept_for_another_order: (c) => `kept free for order ${Baedal.shortId(c.order)}, not due yet`,
  };

  async function drawDecisions() {
    if (!opened) return;
    const order = opened;
    let log;
    try {
      log = await Baedal.api("operator", "GET", `/v1/ops/orders/${order}/dispatch`);
    } catch (error) {
      console.error(error);
      return;
    }
    if (opened !== order) return;
    const name = (id) => riderNames.get(id) || Baedal.shortId(id);
    document.getElementById("dispatch-empty").hidden = log.decisions.length > 0;
    const list = document.getElementById("decisions");
    list.replaceChildren(...log.decisions.map((d) => {
      const li = document.createElement("li");
      li.dataset.decision = d.at;
      li.dataset.rider = d.rider;
      const head = document.createElement("div");
      head.textContent = `${Baedal.clock(d.at)} · offered to ${name(d.rider)}, pickup in ${Baedal.duration(d.pickup_eta_secs)}`;
      const why = document.createElement("div");
      why.className = "why";
      const excluded = d.excluded.length ? ` · not asked again: ${d.excluded.map(name).join(", ")}` : "";
      why.textContent = `waited ${Baedal.duration(d.waited_secs)}, searched ${(d.radius_m / 1000).toFixed(1)} km, ` +
        `${d.free_riders} riders free, ${d.waiting_orders} orders waiting (${d.policy})${excluded}`;
      const table = document.createElement("table");
      d.candidates.forEach((c) => {
        const tr = table.insertRow();
        tr.className = c.verdict === "chosen" ? "chosen" : "";
        tr.dataset.verdict = c.verdict;
        [name(c.rider), `pickup ${Baedal.duration(c.pickup_eta_secs)}`, `cost ${Math.round(c.cost_secs)} s`,
          (verdicts[c.verdict] || (() => c.verdict))(c)].forEach((text) => { tr.insertCell().textContent = text; });
      });
      li.append(head, why, table);
      return li;
    }));
    // Brought into view once filled (before that the page may be too short to scroll).
    if (scrollToLog) {
      scrollToLog = false;
      document.getElementById("dispatch-log").scrollIntoView({ block: "start" });
    }
  }

  function openDecisions(order) {
    opened = order;
    document.querySelectorAll("#orders tr.opened").forEach((tr) => tr.classList.remove("opened"));
    document.querySelector(`#orders tr[data-order="${order}"]`)?.classList.add("opened");
    document.getElementById("dispatch-order").textContent = Baedal.shortId(order);
    document.getElementById("dispatch-log").hidden = false;
    scrollToLog = true;
    document.getElementById("decisions").replaceChildren();
    drawDecisions();
  }

  document.getElementById("orders").addEventListener("click", (event) => {
    const row = event.target.closest("tr[data-order]");
    // The order's link goes to its tracking page; anywhere else on the row opens its log.
    if (row && !event.target.closest("a")) openDecisions(row.dataset.order);
  });
  document.getElementById("dispatch-close").addEventListener("click", () => {
    opened = null;
    document.getElementById("dispatch-log").hidden = true;
    document.querySelectorAll("#orders tr.opened").forEach((tr) => tr.classList.remove("opened"));
  });

  async function refresh() {
    try {
      const city = await Baedal.api("operator", "GET", "/v1/ops/city");
      drawKpis(city);
      drawMap(city);
      drawTable(city);
      riderNames = new Map(city.riders.map((r) => [r.id, r.name]));
      lastOk = Date.now();
      document.getElementById("live").textContent = `live · ${Baedal.clock(city.at)}`;
    } catch (error) {
      console.error(error);
    }
    const live = document.getElementById("live");
    live.classList.toggle("stale", Date.now() - lastOk > 5000);
  }

  Baedal.signIn("operator", "operator@demo.baedal.dev").then(() => {
    refresh();
    setInterval(refresh, 1000);
    setInterval(drawDecisions, 3000);
  });
})();
