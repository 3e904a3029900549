"use strict";
// The rider app: on and off duty, a location ping every 5 s while on duty, an offer with its
// stops and its countdown, and the job stop by stop. An offer may be a trip of several
// orders (or orders joining the trip under way): the rider takes or declines it whole, and
// the route (`rider.trip`, in order) lists every stop left. The page follows one order at a
// time, the next one of the trip once one is done. The rider websocket keeps the page
// current; the REST routes do the acting, so a refusal comes back with its reason to show.
//
// The server judges a pickup and a delivery by the rider's own pings, never by a position a
// command asserts. A phone with a GPS fix pings where it is; a device without one (a desktop)
// gets "I'm at the store" / "I'm at the door", which ping that stop's position first.
(() => {
  const PING_MS = 5000;
  // Where to come on duty with neither a device fix nor a last known position: the demo city.
  const CITY_CENTRE = { lat: 37.5665, lon: 126.978 };
  const W = 480, H = 300;
  const SVG = "http://www.w3.org/2000/svg";

  let me = null; // the rider's id: the token's subject
  let rider = null; // the rider as the API shows it
  let order = null; // the order offered to or held by the rider (or just delivered)
  let version = -1; // that order's stream version, as last seen on the socket
  let here = null; // where the pings say the rider is
  let source = ""; // where `here` came from, in words
  let fix = false; // the device's geolocation gave a position
  let watch = null;
  let arrived = null; // the stop of which order the rider said it reached, once pinged there
  let shown = null; // the stage the page shows, which a deadline passing does not change
  const storeNames = new Map();

  const byId = (id) => document.getElementById(id);
  const message = (text) => { byId("message").textContent = text || ""; };
  const notice = (text) => { byId("notice").textContent = text || ""; };
  const short = (o) => `#${Baedal.shortId(o.id)}`;
  const point = (p) => ({ lat: p.lat, lon: p.lon });
  const failure = (what, error) => `${what}: ${Baedal.explain(error)}`;

  function metres(a, b) {
    const rad = Math.PI / 180;
    const dLat = (b.lat - a.lat) * rad, dLon = (b.lon - a.lon) * rad;
    const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
    return 2 * 6371000 * Math.asin(Math.sqrt(h));
  }
  const distance = (m) => (m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`);
  const away = (p) => (here ? `${distance(metres(here, p))} from you` : "");
  const coords = (p) => `${p.lat.toFixed(5)}, ${p.lon.toFixed(5)}`;

  // What the order is to this rider now: an offer, a job at one of its two legs, done, or
  // nothing (another rider's, cancelled, or an offer whose time ran out).
  function stage(o) {
    if (!o || o.rider_id !== me) return null;
    if (o.status === "delivered") return "done";
    if (o.dispatch === "offered") return Date.parse(o.offer_expires_at) > Date.now() ? "offer" : null;
    if (o.status === "picked_up") return "to_customer";
    if (o.dispatch === "assigned") return "to_store";
    return null;
  }
  const live = (s) => s === "offer" || s === "to_store" || s === "to_customer";

  // An order from the socket (with its version and events) or from a REST answer.
  function take(next, nextVersion, events) {
    const same = order && order.id === next.id;
    if (same) {
      if (nextVersion !== undefined && nextVersion <= version) return;
      if (Date.parse(next.updated_at) < Date.parse(order.updated_at)) return;
    } else if (!stage(next)) {
      return; // not this rider's (any more): nothing to show
    }
    const before = same ? shown : null;
    if (!same) version = -1;
    if (nextVersion !== undefined) version = nextVersion;
    order = next;
    const now = stage(next);
    if (before && live(before) && !live(now)) {
      if (next.status === "cancelled") notice(`Order ${short(next)} was cancelled: ${next.cancellation ? next.cancellation.message : ""}`);
      else if (before === "offer" && (events || []).includes("offer_expired")) notice(`The offer for ${short(next)} lapsed.`);
      else if (before === "offer") notice(`The offer for ${short(next)} is off.`);
      else if (now !== "done") notice(`Order ${short(next)} is no longer yours.`);
    }
    if (now === "offer") notice("");
    if (now) nameStore(next.store_id);
    render();
  }

  function takeRider(view) {
    rider = view;
    // Done with the order on screen while the trip goes on: follow its next order.
    const next = (rider.trip || [])[0];
    if (next && !live(stage(order)) && (!order || next.order_id !== order.id)) followOrder(next.order_id);
    if (rider.online) {
      if (!here && rider.position) {
        here = point(rider.position);
        source = "last known position";
      }
      follow();
    } else {
      unfollow();
    }
    render();
  }

  async function nameStore(id) {
    if (storeNames.has(id)) return;
    storeNames.set(id, null);
    try {
      const store = await Baedal.api("rider", "GET", `/v1/stores/${id}`);
      storeNames.set(id, store.name);
      render();
    } catch (_) {
      storeNames.delete(id);
    }
  }
  const storeName = (o) => storeNames.get(o.store_id) || "the store";

  // --- position --------------------------------------------------------------------------

  // One fix from the device, or null: no geolocation, refused, or no answer in time (a
  // permission prompt nobody answers never calls back, so the wait is bounded here).
  function deviceFix(timeoutMs) {
    return new Promise((resolve) => {
      if (!navigator.geolocation) { resolve(null); return; }
      const timer = setTimeout(() => resolve(null), timeoutMs);
      navigator.geolocation.getCurrentPosition(
        (p) => { clearTimeout(timer); resolve({ lat: p.coords.latitude, lon: p.coords.longitude }); },
        () => { clearTimeout(timer); resolve(null); },
        { enableHighAccuracy: true, timeout: timeoutMs, maximumAge: 30000 },
      );
    });
  }

  // While on duty, a device that has geolocation keeps `here` current.
  function follow() {
    if (!navigator.geolocation || watch !== null) return;
    watch = navigator.geolocation.watchPosition(
      (p) => {
        here = { lat: p.coords.latitude, lon: p.coords.longitude };
        fix = true;
        source = "this device's GPS";
        render();
      },
      () => {
        if (fix) { fix = false; render(); }
      },
      { enableHighAccuracy: true, maximumAge: 10000 },
    );
  }

  function unfollow() {
    if (watch !== null && navigator.geolocation) navigator.geolocation.clearWatch(watch);
    watch = null;
    fix = false;
  }

  async function ping() {
    if (!rider || !rider.online || !here) return false;
    try {
      rider = await Baedal.api("rider", "PUT", `/v1/riders/${me}/location`, point(here));
      renderDuty();
      return true;
    } catch (error) {
      message(failure("location", error));
      refresh();
      return false;
    }
  }

  // Without a fix, the rider says where it is: the stop's position is pinged at once, so
  // the server's track has it before the pickup or delivery that needs it.
  async function arrive(stop, at, words) {
    message("");
    here = point(at);
    source = words;
    if (await ping()) arrived = { order: order && order.id, stop };
    render();
  }

  // --- duty ------------------------------------------------------------------------------

  async function goOnline() {
    message("");
    const device = await deviceFix(4000);
    let position, words;
    if (device) {
      [position, words] = [device, "this device's GPS"];
    } else if (rider && rider.position) {
      [position, words] = [point(rider.position), "last known position"];
    } else {
      [position, words] = [CITY_CENTRE, "the city centre (no position known)"];
    }
    try {
      const view = await Baedal.api("rider", "POST", `/v1/riders/${me}/online`, { position });
      here = position;
      source = words;
      fix = Boolean(device);
      takeRider(view);
    } catch (error) {
      message(failure("go online", error));
    }
  }

  async function goOffline() {
    message("");
    try {
      takeRider(await Baedal.api("rider", "POST", `/v1/riders/${me}/offline`));
    } catch (error) {
      message(failure("go offline", error));
    }
  }

  async function followOrder(id) {
    try {
      take(await Baedal.api("rider", "GET", `/v1/orders/${id}`));
    } catch (_) {
      // Gone from this rider meanwhile: the next frame says what is left.
    }
  }

  // --- acting on the offer and the job -----------------------------------------------------

  // The whole offer at once: every order offered now, one trip.
  async function answer(accept) {
    message("");
    const declined = order;
    try {
      takeRider(await Baedal.api("rider", "POST", `/v1/riders/${me}/offer/${accept ? "accept" : "decline"}`));
      if (declined) await followOrder(declined.id);
      if (!accept && declined) notice(`You declined ${short(declined)}${offeredOrders().length > 1 ? " and the rest of the trip" : ""}.`);
      return true;
    } catch (error) {
      message(failure(accept ? "accept" : "decline", error));
      if (error.status === 404 || error.status === 409) refresh();
      return false;
    }
  }

  const offeredOrders = () => [...new Set((rider && rider.trip || []).filter((s) => s.offered).map((s) => s.order_id))];

  async function act(path, what, body) {
    if (!order) return;
    message("");
    const id = order.id;
    try {
      take(await Baedal.api("rider", "POST", `/v1/riders/${me}/${path.replace("{order}", id)}`, body));
      return true;
    } catch (error) {
      message(failure(what, error));
      if (error.status === 404 || error.status === 409) refresh();
      return false;
    }
  }

  const { button, busy } = Baedal;

  // --- drawing -----------------------------------------------------------------------------

  function render() {
    renderDuty();
    const s = stage(order);
    shown = s;
    byId("offer").hidden = s !== "offer";
    byId("job").hidden = !(s === "to_store" || s === "to_customer" || s === "done");
    byId("map-panel").hidden = !live(s);
    if (s === "offer") renderOffer();
    if (s && s !== "offer") renderJob(s);
    if (live(s)) drawMap(s);
  }

  function renderDuty() {
    if (!rider) return;
    byId("rider-name").textContent = rider.name;
    const s = stage(order);
    const state = !rider.online ? "Off duty"
      : s === "offer" ? "On duty · an offer is waiting"
        : s === "to_store" ? "On a job · to the store"
          : s === "to_customer" ? "On a job · to the customer"
            : "On duty · waiting for offers";
    byId("duty-state").textContent = state;
    byId("duty").dataset.online = String(rider.online);
    const toggle = byId("duty-toggle");
    toggle.hidden = false;
    toggle.textContent = rider.online ? "Go offline" : "Go online";
    toggle.className = rider.online ? "" : "primary";
    toggle.dataset.action = rider.online ? "offline" : "online";
    const where = [];
    if (rider.online && here) where.push(`at ${coords(here)} (${source})`);
    if (rider.online && rider.position_at) where.push(`last ping ${Baedal.clock(rider.position_at)}`);
    if (rider.online && !fix) where.push("no GPS fix here: say when you reach each stop");
    byId("where").textContent = where.join(" · ");
    const reason = byId("offline-reason");
    const unanswered = !rider.online && rider.offline_reason === "unanswered_offers";
    reason.hidden = !unanswered;
    reason.dataset.reason = unanswered ? rider.offline_reason : "";
    reason.textContent = unanswered
      ? "You were taken off duty: offers to you went unanswered several times in a row. Go online again when you can answer offers."
      : "";
  }

  function stopItem(label, name, detail, stop) {
    const li = document.createElement("li");
    li.dataset.stop = stop;
    const title = document.createElement("strong");
    title.textContent = `${label} · ${name}`;
    const info = document.createElement("div");
    info.className = "muted";
    info.textContent = detail;
    li.append(title, info);
    return li;
  }

  const itemsLine = (o) => [(o.items || []).map((l) => `${l.quantity} × ${l.name}`).join(", "), Baedal.money(o.total)]
    .filter(Boolean).join(" · ");

  // The route as the server plans it: every stop left, offered ones marked.
  function routeItems() {
    return (rider && rider.trip || []).map((s) => {
      const what = s.kind === "pickup" ? "Pick up" : "Drop off";
      const detail = [coords(s.at), away(s.at), `about ${Baedal.clock(s.eta)}`, s.offered ? "offered" : ""].filter(Boolean).join(" · ");
      const li = stopItem(what, `#${Baedal.shortId(s.order_id)}`, detail, s.kind);
      li.dataset.order = s.order_id;
      li.classList.toggle("offered", s.offered);
      return li;
    });
  }

  function renderOffer() {
    const o = order;
    byId("offer").dataset.order = o.id;
    const trip = offeredOrders();
    byId("offer").dataset.orders = String(Math.max(1, trip.length));
    byId("offer-title").textContent = trip.length > 1 ? `New trip: ${trip.length} orders` : "New job offer";
    const route = routeItems();
    byId("offer-stops").replaceChildren(...(route.length > 2 ? route : [
      stopItem("Pick up", storeName(o), [coords(o.pickup_point), away(o.pickup_point)].filter(Boolean).join(" · "), "pickup"),
      stopItem("Drop off", "the customer", `${coords(o.delivery_point)} · ${distance(metres(o.pickup_point, o.delivery_point))} from the store`, "dropoff"),
    ]));
    byId("offer-items").textContent = itemsLine(o);
    renderCountdown();
  }

  function renderCountdown() {
    const out = byId("countdown");
    if (stage(order) !== "offer") { out.textContent = ""; return; }
    const secs = Math.max(0, (Date.parse(order.offer_expires_at) - Date.now()) / 1000);
    out.textContent = Baedal.duration(Math.ceil(secs));
    out.dataset.remaining = String(Math.ceil(secs));
    out.classList.toggle("urgent", secs < 10);
  }

  function renderJob(s) {
    const o = order;
    const job = byId("job");
    job.dataset.order = o.id;
    job.dataset.stage = s;
    byId("job-title").textContent = short(o);
    byId("job-badge").replaceChildren(Baedal.badge(o.status));
    const reached = { to_store: 0, to_customer: 1, done: 2 }[s];
    byId("legs").replaceChildren(...["to the store", "to the customer", "done"].map((label, i) => {
      const div = document.createElement("div");
      div.className = `step${i < reached || s === "done" ? " done" : ""}${i === reached && s !== "done" ? " current" : ""}`;
      div.textContent = label;
      return div;
    }));
    const stopReached = arrived && arrived.order === o.id ? arrived.stop : "";
    job.dataset.arrived = stopReached;
    const arrival = (stop, label, onClick) => button(stopReached === stop ? `${label} ✓` : label, "", `arrive-${stop}`, onClick);
    const actions = [];
    if (s === "to_store") {
      byId("job-stop").textContent = `Pick up at ${storeName(o)}`;
      const kitchen = o.status === "ready_for_pickup" ? "the food is ready"
        : o.ready_by ? `the kitchen is cooking, ready by ${Baedal.clock(o.ready_by)}` : "the kitchen is cooking";
      byId("job-detail").textContent = [kitchen, away(o.pickup_point), itemsLine(o)].filter(Boolean).join(" · ");
      if (!fix) actions.push(arrival("store", "I'm at the store", () => arrive("store", o.pickup_point, "at the store, by your word")));
      actions.push(button("Pick up", "primary", "pickup", () => act("jobs/{order}/pickup", "pick up")));
    } else if (s === "to_customer") {
      byId("job-stop").textContent = `Deliver to ${coords(o.delivery_point)}`;
      byId("job-detail").textContent = [away(o.delivery_point), itemsLine(o)].filter(Boolean).join(" · ");
      if (!fix) actions.push(arrival("door", "I'm at the door", () => arrive("door", o.delivery_point, "at the door, by your word")));
      actions.push(button("Deliver", "primary", "deliver", () => act("jobs/{order}/deliver", "deliver", { position: point(here || o.delivery_point) })));
    } else {
      byId("job-stop").textContent = "Delivered. Thank you!";
      byId("job-detail").textContent = [`at ${Baedal.clock(o.updated_at)}`, Baedal.money(o.total)].filter(Boolean).join(" · ");
    }
    byId("job-actions").replaceChildren(...actions);
    // The rest of the trip, when there is more than this order.
    const route = routeItems();
    byId("route").hidden = route.length <= 2;
    byId("route-stops").replaceChildren(...(route.length > 2 ? route : []));
  }

  const el = (name, attrs) => {
    const node = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    return node;
  };

  function drawMap(s) {
    const o = order;
    const route = (rider && rider.trip) || [];
    const points = [o.pickup_point, o.delivery_point].concat(here ? [here] : [], route.map((stop) => stop.at));
    const proj = Baedal.projection(points, W, H, 250);
    drawRoute(route, proj);
    const grid = byId("map-grid");
    const step = 500 * proj.scale; // a line every 500 m
    grid.replaceChildren();
    for (let x = (W / 2) % step; x < W; x += step) grid.appendChild(el("line", { class: "grid-line", x1: x, y1: 0, x2: x, y2: H }));
    for (let y = (H / 2) % step; y < H; y += step) grid.appendChild(el("line", { class: "grid-line", x1: 0, y1: y, x2: W, y2: y }));
    const place = (id, p) => {
      const [x, y] = proj.at(p);
      const node = byId(id);
      node.setAttribute("transform", `translate(${x.toFixed(1)},${y.toFixed(1)})`);
      node.dataset.lat = p.lat;
      node.dataset.lon = p.lon;
      return [x, y];
    };
    // A stop's name goes on the side of the mark with room for it.
    const label = (id, x) => {
      const text = byId(id).querySelector("text");
      const left = x > W / 2;
      text.setAttribute("x", left ? -13 : 13);
      text.setAttribute("text-anchor", left ? "end" : "start");
    };
    const [sx, sy] = place("stop-pickup", o.pickup_point);
    const [dx, dy] = place("stop-dropoff", o.delivery_point);
    byId("stop-pickup").querySelector("text").textContent = storeName(o);
    label("stop-pickup", sx);
    label("stop-dropoff", dx);
    const line = (id, a, b) => Object.entries({ x1: a[0], y1: a[1], x2: b[0], y2: b[1] })
      .forEach(([k, v]) => byId(id).setAttribute(k, v.toFixed(1)));
    line("leg-customer", [sx, sy], [dx, dy]);
    const mark = byId("me");
    // An SVG element has no `hidden` property: the attribute itself is toggled.
    mark.toggleAttribute("hidden", !here);
    byId("leg-store").toggleAttribute("hidden", !here);
    if (!here) return;
    const at = place("me", here);
    const next = s === "to_customer" ? [dx, dy] : [sx, sy];
    line("leg-store", at, next);
    byId("leg-store").setAttribute("class", `assignment ${s === "to_customer" ? "to_customer" : "to_store"}`);
    mark.querySelector("circle").setAttribute("class", `rider ${s === "offer" ? "offered" : s}`);
  }

  // The rest of the trip: the route's line through every stop (from the rider, when known)
  // and the other orders' stops, numbered in route order.
  function drawRoute(route, proj) {
    const marks = byId("route-marks");
    marks.replaceChildren();
    if (route.length <= 2) return;
    const fmt = ([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`;
    const path = (here ? [proj.at(here)] : []).concat(route.map((stop) => proj.at(stop.at)));
    marks.appendChild(el("polyline", { class: "trip-route", points: path.map(fmt).join(" ") }));
    route.forEach((stop, i) => {
      if (stop.order_id === order.id) return;
      const g = el("g", { class: "trip-stop", transform: `translate(${fmt(proj.at(stop.at))})`, "data-stop": stop.kind, "data-order": stop.order_id });
      g.appendChild(stop.kind === "pickup"
        ? el("rect", { class: "store-mark", width: 12, height: 12, x: -6, y: -6, rx: 2 })
        : el("circle", { class: "dropoff", r: 5 }));
      const number = el("text", { class: "store-label", x: 9, y: 4 });
      number.textContent = String(i + 1);
      g.appendChild(number);
      marks.appendChild(g);
    });
  }

  // --- keeping current ---------------------------------------------------------------------

  // The REST view of the rider and its order: at start, and as a fallback for a socket that
  // is down (or an order whose end the socket did not tell).
  async function refresh() {
    try {
      takeRider(await Baedal.api("rider", "GET", `/v1/riders/${me}`));
      const held = rider.duty && rider.duty.order;
      const id = held || (order && live(stage(order)) ? order.id : null);
      if (!id) return;
      try {
        take(await Baedal.api("rider", "GET", `/v1/orders/${id}`));
      } catch (error) {
        // Not this rider's any more: the order is out of view.
        if (error.status === 404 && order && order.id === id) { order = null; render(); }
      }
    } catch (error) {
      message(failure("refresh", error));
    }
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "snapshot":
        if (frame.rider) takeRider(frame.rider);
        frame.orders.forEach((o) => take(o, o.version));
        // The order on screen may have ended while the socket was down.
        if (order && live(stage(order)) && !frame.orders.some((o) => o.id === order.id)) refresh();
        break;
      case "offer":
        take(frame.order, frame.order.version, ["rider_offered"]);
        break;
      case "order":
        take(frame.order, frame.order.version, frame.events);
        break;
      case "rider":
        takeRider(frame.rider);
        break;
      case "error":
        message(`${frame.message} (${frame.code})`);
        break;
      default:
    }
    byId("live").textContent = `live · ${new Date().toLocaleTimeString([], { hour12: false })}`;
  }

  byId("duty-toggle").addEventListener("click", (event) => {
    busy(event.currentTarget, () => (rider && rider.online ? goOffline() : goOnline()));
  });
  document.querySelector("#offer [data-action=accept]").addEventListener("click", (event) => {
    busy(event.currentTarget, () => answer(true));
  });
  document.querySelector("#offer [data-action=decline]").addEventListener("click", (event) => {
    busy(event.currentTarget, () => answer(false));
  });

  Baedal.signIn("rider", "rider@demo.baedal.dev").then(async (current) => {
    me = current.subject;
    await refresh();
    Baedal.socket("rider", "/v1/ws/rider", onFrame);
    setInterval(ping, PING_MS);
    setInterval(refresh, 15000);
    // The countdown, and the offer gone from the page the moment its time is up.
    setInterval(() => {
      if (order && order.dispatch === "offered" && order.rider_id === me) {
        if (stage(order) === "offer") {
          renderCountdown();
        } else if (shown === "offer") {
          notice(`The offer for ${short(order)} lapsed.`);
          render();
        }
      }
    }, 250);
  });
})();
