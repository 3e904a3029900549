"use strict";
// The store tablet: the board of open orders (GET /v1/stores/{id}/orders), refreshed when
// the store's websocket says an order changed, and the accept / reject / ready buttons,
// which call the store's REST routes.
(() => {
  let store = null;

  const message = (text) => { document.getElementById("message").textContent = text || ""; };

  // Who comes for the order and when: the rider's id and when it should take the food.
  function rider(entry) {
    if (!entry.rider_id) return "";
    const who = `rider #${Baedal.shortId(entry.rider_id)}`;
    if (entry.status === "picked_up") return `${who} has it`;
    return entry.pickup_at ? `${who} takes it about ${Baedal.clock(entry.pickup_at)}` : `${who} coming`;
  }

  function ticket(entry) {
    const article = document.createElement("article");
    article.className = "panel ticket";
    article.dataset.order = entry.order_id;
    article.dataset.status = entry.status;
    const top = document.createElement("div");
    top.className = "top";
    const title = document.createElement("strong");
    title.className = "mono";
    title.textContent = `#${Baedal.shortId(entry.order_id)}`;
    top.append(title, Baedal.badge(entry.status));
    const lines = document.createElement("ul");
    for (const line of entry.lines) {
      const li = document.createElement("li");
      li.textContent = `${line.quantity} × ${line.name}`;
      lines.appendChild(li);
    }
    const info = document.createElement("div");
    info.className = "muted";
    const deadline = entry.accept_by ? `answer by ${Baedal.clock(entry.accept_by)}` : entry.ready_by ? `ready by ${Baedal.clock(entry.ready_by)}` : "";
    info.textContent = [`${Baedal.money(entry.total)}`, `placed ${Baedal.clock(entry.placed_at)}`, deadline, rider(entry)]
      .filter(Boolean).join(" · ");
    const actions = document.createElement("div");
    actions.className = "actions";
    if (entry.status === "awaiting_store") {
      const prep = document.createElement("select");
      prep.name = "prep_minutes";
      for (const minutes of [10, 15, 20, 30, 45]) prep.add(new Option(`${minutes} min`, minutes, minutes === 15, minutes === 15));
      const accept = button("Accept", "primary", "accept", () => act(entry, "accept", { prep_minutes: Number(prep.value) }));
      const reason = document.createElement("select");
      reason.name = "reason";
      for (const text of ["too busy right now", "out of an ingredient", "closing soon"]) reason.add(new Option(text, text));
      const reject = button("Reject", "danger", "reject", () => act(entry, "reject", { reason: reason.value }));
      actions.append(prep, accept, reason, reject);
    } else if (entry.status === "preparing") {
      actions.append(button("Ready for pickup", "primary", "ready", () => act(entry, "ready")));
    }
    article.append(top, lines, info, actions);
    return article;
  }

  const button = Baedal.button;

  async function act(entry, action, body) {
    message("");
    try {
      await Baedal.api("store", "POST", `/v1/stores/${store}/orders/${entry.order_id}/${action}`, body);
    } catch (error) {
      message(`${action}: ${Baedal.explain(error)}`);
    }
    await refresh();
  }

  async function refresh() {
    try {
      const board = await Baedal.api("store", "GET", `/v1/stores/${store}/orders`);
      const section = document.getElementById("board");
      // Tickets that did not change stay as they are, so a choice being made on one is kept.
      const shown = new Map([...section.querySelectorAll("article")].map((a) => [a.dataset.order, a]));
      const tickets = board.orders.map((entry) => {
        const signature = [entry.status, entry.rider_id, entry.ready_by, entry.pickup_at].join("|");
        const existing = shown.get(entry.order_id);
        if (existing && existing.dataset.signature === signature) return existing;
        const fresh = ticket(entry);
        fresh.dataset.signature = signature;
        return fresh;
      });
      if (tickets.length === 0) {
        const empty = document.createElement("div");
        empty.className = "empty";
        empty.textContent = "No open orders. New ones appear here the moment they are paid for.";
        tickets.push(empty);
      }
      section.replaceChildren(...tickets);
      document.getElementById("live").textContent = `board · ${new Date().toLocaleTimeString([], { hour12: false })}`;
    } catch (error) {
      message(error.message);
    }
  }

  async function showStore() {
    const info = await Baedal.api("store", "GET", `/v1/stores/${store}`);
    document.getElementById("store-name").textContent = info.name;
    const toggle = document.getElementById("open-toggle");
    toggle.hidden = false;
    toggle.textContent = info.open ? "Open · close now" : "Closed · open now";
    toggle.onclick = async () => {
      try {
        await Baedal.api("store", "POST", `/v1/stores/${store}/${info.open ? "close" : "open"}`);
      } catch (error) {
        message(error.message);
      }
      showStore();
    };
  }

  Baedal.signIn("store", "store@demo.baedal.dev").then((current) => {
    store = current.subject;
    showStore().catch((error) => message(error.message));
    refresh();
    // A change pushed over the socket refreshes the board at once; the timer covers a
    // socket that is down.
    Baedal.socket("store", "/v1/ws/store", (frame) => {
      if (frame.type === "order" || frame.type === "snapshot") refresh();
    });
    setInterval(refresh, 5000);
  });
})();
