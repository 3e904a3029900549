"use strict";
// The customer's tracking page for one order: GET /v1/orders/{id} once, then the customer
// websocket's order changes and rider positions (with a slow poll while the socket is down).
(() => {
  const orderId = decodeURIComponent(location.pathname.split("/").pop());
  const steps = [
    ["awaiting_store", "placed"],
    ["preparing", "cooking"],
    ["ready_for_pickup", "ready"],
    ["picked_up", "on the way"],
    ["delivered", "delivered"],
  ];
  const rank = { awaiting_payment: 0, awaiting_store: 0, preparing: 1, ready_for_pickup: 2, picked_up: 3, delivered: 4 };
  let order = null;
  let version = -1;
  let proj = null;
  let riderAt = null;

  function headline(o) {
    switch (o.status) {
      case "awaiting_payment": return "Confirming your payment…";
      case "awaiting_store": return "Waiting for the store to confirm";
      case "preparing": return o.rider_id ? "Cooking · a rider is on the way to the store" : "The kitchen is cooking";
      case "ready_for_pickup": return "Ready · waiting for the rider";
      case "picked_up": return "Your rider is on the way";
      case "delivered": return "Delivered. Enjoy!";
      case "rejected": return "The payment was declined";
      case "cancelled": return "Your order was cancelled";
      default: return o.status;
    }
  }

  function render() {
    if (!order) return;
    const o = order;
    document.getElementById("headline").textContent = headline(o);
    const parts = [`order #${Baedal.shortId(o.id)}`, `placed ${Baedal.clock(o.placed_at)}`, Baedal.money(o.total)];
    if (o.eta && !["delivered", "cancelled", "rejected"].includes(o.status)) parts.push(`arrives about ${Baedal.clock(o.eta.dropoff_at)}`);
    if (o.cancellation) parts.push(o.cancellation.message);
    if (o.rejection_reason) parts.push(o.rejection_reason);
    document.getElementById("detail").textContent = parts.filter(Boolean).join(" · ");
    document.getElementById("app").dataset.status = o.status;
    const reached = rank[o.status];
    document.getElementById("steps").replaceChildren(...steps.map(([status, label], i) => {
      const div = document.createElement("div");
      div.className = `step${reached !== undefined && i <= reached ? " done" : ""}`;
      div.dataset.step = status;
      div.textContent = label;
      return div;
    }));
    document.getElementById("lines").replaceChildren(...o.items.map((line) => {
      const div = document.createElement("div");
      div.textContent = `${line.quantity} × ${line.name}`;
      return div;
    }));
    if (!proj) proj = Baedal.projection([o.pickup_point, o.delivery_point], 700, 420, 400);
    const [sx, sy] = proj.at(o.pickup_point), [hx, hy] = proj.at(o.delivery_point);
    document.getElementById("store-mark").setAttribute("transform", `translate(${sx},${sy})`);
    document.getElementById("home-mark").setAttribute("transform", `translate(${hx},${hy})`);
    const route = document.getElementById("route");
    Object.entries({ x1: sx, y1: sy, x2: hx, y2: hy }).forEach(([k, v]) => route.setAttribute(k, v));
    drawRider();
  }

  function drawRider() {
    const mark = document.getElementById("rider-mark");
    const onTheWay = order && order.rider_id && ["preparing", "ready_for_pickup", "picked_up"].includes(order.status);
    // An SVG element has no `hidden` property: the attribute itself is toggled.
    const show = Boolean(onTheWay && riderAt && proj);
    mark.toggleAttribute("hidden", !show);
    if (!show) return;
    const [x, y] = proj.at(riderAt);
    mark.style.transform = `translate(${x}px, ${y}px)`;
  }

  let storeNamed = false;
  async function nameStore(storeId) {
    if (storeNamed) return;
    storeNamed = true;
    try {
      const store = await Baedal.api("customer", "GET", `/v1/stores/${storeId}`);
      document.querySelector("#store-mark text").textContent = store.name;
    } catch (_) {
      storeNamed = false;
    }
  }

  function take(next, nextVersion) {
    if (next.id !== orderId) return;
    if (nextVersion !== undefined) {
      if (nextVersion <= version) return;
      version = nextVersion;
    }
    order = next;
    render();
    nameStore(next.store_id);
  }

  async function load() {
    try {
      take(await Baedal.api("customer", "GET", `/v1/orders/${encodeURIComponent(orderId)}`));
      document.getElementById("message").textContent = "";
    } catch (error) {
      document.getElementById("message").textContent = error.status === 404 ? "No such order on this account." : error.message;
    }
  }

  Baedal.signIn("customer", "customer@demo.baedal.dev").then(() => {
    load();
    Baedal.socket("customer", "/v1/ws/customer", (frame) => {
      if (frame.type === "snapshot") frame.orders.forEach((o) => take(o, o.version));
      if (frame.type === "order") take(frame.order, frame.order.version);
      if (frame.type === "rider_position" && frame.order_id === orderId) {
        riderAt = frame.position;
        drawRider();
      }
      document.getElementById("live").textContent = `live · ${new Date().toLocaleTimeString([], { hour12: false })}`;
    });
    setInterval(load, 10000);
  });
})();
