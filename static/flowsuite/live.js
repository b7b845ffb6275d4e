// The live-update client: one websocket per page to /ws/live/, shared by every widget.
//
//   const stop = FlowLive.subscribe("energy.node.42", (event) => { ... event.data ... });
//   FlowLive.onState((state) => ...);   // "connecting", "open", "closed"
//
// It connects on the first subscription, re-subscribes after a reconnect, and reconnects with
// exponential backoff (1 s doubling to 30 s, with jitter), at once when the browser comes back
// online or the tab becomes visible. Events look like
//   {"group": "...", "type": "...", "data": {...}, "sent_at": "ISO 8601"}.
(function () {
  "use strict";
  const handlers = new Map(); // group -> Set of functions
  const stateListeners = new Set();
  let socket = null;
  let attempt = 0;
  let retryTimer = null;
  let state = "closed";

  function url() {
    const path = document.body && document.body.dataset.liveUrl;
    if (!path) return null;
    return (location.protocol === "https:" ? "wss://" : "ws://") + location.host + path;
  }

  function setState(value) {
    state = value;
    stateListeners.forEach((fn) => fn(value));
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function connect() {
    const target = url();
    if (!target || socket) return;
    clearTimeout(retryTimer);
    setState("connecting");
    socket = new WebSocket(target);
    socket.onopen = () => {
      attempt = 0;
      setState("open");
      if (handlers.size) send({ action: "subscribe", groups: [...handlers.keys()] });
    };
    socket.onmessage = (message) => dispatch(JSON.parse(message.data));
    socket.onclose = () => {
      socket = null;
      setState("closed");
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (!handlers.size) return;
    const delay = Math.min(30000, 1000 * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt += 1;
    retryTimer = setTimeout(connect, delay);
  }

  function reconnectNow() {
    if (socket || !handlers.size) return;
    attempt = 0;
    connect();
  }

  function dispatch(message) {
    if (message.group) {
      (handlers.get(message.group) || []).forEach((fn) => {
        try { fn(message); } catch (error) { console.error("live handler failed", error); }
      });
    } else if (message.type === "subscribed" && message.refused.length) {
      console.warn("FlowLive: not allowed to follow", message.refused);
    } else if (message.type === "error") {
      console.warn("FlowLive:", message.message);
    }
  }

  function subscribe(group, handler) {
    const isNew = !handlers.has(group);
    if (isNew) handlers.set(group, new Set());
    handlers.get(group).add(handler);
    if (isNew) send({ action: "subscribe", groups: [group] });
    connect();
    return function unsubscribe() {
      const set = handlers.get(group);
      if (!set) return;
      set.delete(handler);
      if (!set.size) {
        handlers.delete(group);
        send({ action: "unsubscribe", groups: [group] });
      }
    };
  }

  function onState(fn) {
    stateListeners.add(fn);
    fn(state);
    return () => stateListeners.delete(fn);
  }

  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") reconnectNow();
  });
  window.FlowLive = { subscribe, onState, get state() { return state; } };
})();
